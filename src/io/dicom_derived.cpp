#include "dicom_derived.h"

#include "dicom_common.h"
#include "unipet/core/error.h"

namespace unipet::io::detail {

namespace {

// Series-level attributes of the source's modules (PS3.3 A.21 PET Image IOD), copied as present.
// Left out on purpose: what identifies the new series or describes its pixels (the writer sets
// those), and Patient Position, which the IOD forbids beside the Patient Orientation Code
// Sequence that the NM/PET Patient Orientation module requires.
const DcmTagKey kSeriesTags[] = {
    // Patient
    DCM_SpecificCharacterSet, DCM_PatientName, DCM_PatientID, DCM_IssuerOfPatientID, DCM_PatientBirthDate,
    DCM_PatientBirthTime, DCM_PatientSex, DCM_OtherPatientIDsSequence, DCM_EthnicGroup, DCM_PatientComments,
    DCM_PatientSpeciesDescription, DCM_PatientBreedDescription, DCM_ResponsiblePerson,
    DCM_ResponsibleOrganization, DCM_PatientIdentityRemoved, DCM_DeidentificationMethod,
    DCM_DeidentificationMethodCodeSequence,
    // General Study, Patient Study
    DCM_StudyInstanceUID, DCM_StudyDate, DCM_StudyTime, DCM_ReferringPhysicianName, DCM_StudyID,
    DCM_AccessionNumber, DCM_StudyDescription, DCM_PhysiciansOfRecord, DCM_NameOfPhysiciansReadingStudy,
    DCM_ProcedureCodeSequence, DCM_ReferencedStudySequence, DCM_PatientAge, DCM_PatientSize, DCM_PatientWeight,
    DCM_PatientSexNeutered, DCM_AdditionalPatientHistory,
    // General Series (SeriesDate/Time are the PET reference time of activity: kept)
    DCM_SeriesDate, DCM_SeriesTime, DCM_Laterality, DCM_PerformingPhysicianName, DCM_ProtocolName,
    DCM_OperatorsName, DCM_BodyPartExamined, DCM_AnatomicRegionSequence, DCM_PerformedProcedureStepStartDate,
    DCM_PerformedProcedureStepStartTime, DCM_PerformedProcedureStepID, DCM_PerformedProcedureStepDescription,
    // Frame of Reference
    DCM_FrameOfReferenceUID, DCM_PositionReferenceIndicator,
    // General Equipment
    DCM_Manufacturer, DCM_InstitutionName, DCM_InstitutionAddress, DCM_StationName,
    DCM_InstitutionalDepartmentName, DCM_ManufacturerModelName, DCM_DeviceSerialNumber, DCM_SoftwareVersions,
    DCM_GantryID, DCM_SpatialResolution, DCM_DateOfLastCalibration, DCM_TimeOfLastCalibration,
    DCM_ContributingEquipmentSequence,
    // PET Series
    DCM_SUVType, DCM_CountsSource, DCM_SeriesType, DCM_ReprojectionMethod, DCM_NumberOfRRIntervals,
    DCM_NumberOfTimeSlots, DCM_NumberOfTimeSlices, DCM_CorrectedImage, DCM_RandomsCorrectionMethod,
    DCM_AttenuationCorrectionMethod, DCM_ScatterCorrectionMethod, DCM_DecayCorrection, DCM_ReconstructionDiameter,
    DCM_ConvolutionKernel, DCM_ReconstructionMethod, DCM_DetectorLinesOfResponseUsed,
    DCM_AcquisitionStartCondition, DCM_AcquisitionStartConditionData, DCM_AcquisitionTerminationCondition,
    DCM_AcquisitionTerminationConditionData, DCM_FieldOfViewShape, DCM_FieldOfViewDimensions,
    DCM_GantryDetectorTilt, DCM_GantryDetectorSlew, DCM_TypeOfDetectorMotion, DCM_CollimatorType,
    DCM_CollimatorGridName, DCM_AxialAcceptance, DCM_AxialMash, DCM_TransverseMash, DCM_DetectorElementSize,
    DCM_CoincidenceWindowWidth, DCM_EnergyWindowRangeSequence, DCM_SecondaryCountsType,
    // PET Isotope
    DCM_RadiopharmaceuticalInformationSequence, DCM_InterventionDrugInformationSequence,
    // PET Multi-gated Acquisition
    DCM_BeatRejectionFlag, DCM_TriggerSourceOrType, DCM_PVCRejection, DCM_SkipBeats, DCM_HeartRate,
    DCM_CardiacFramingType,
    // NM/PET Patient Orientation
    DCM_PatientOrientationCodeSequence, DCM_PatientGantryRelationshipCodeSequence,
    // General Image: a lossy source makes a lossy derived image
    DCM_LossyImageCompression, DCM_LossyImageCompressionRatio, DCM_LossyImageCompressionMethod};

// Per-image attributes of the PET Image and General Image modules: each slice keeps its own.
const DcmTagKey kSliceTags[] = {
    DCM_AcquisitionDate, DCM_AcquisitionTime, DCM_AcquisitionDateTime, DCM_AcquisitionNumber,
    DCM_ActualFrameDuration, DCM_FrameReferenceTime, DCM_TriggerTime, DCM_FrameTime, DCM_LowRRValue,
    DCM_HighRRValue, DCM_NominalInterval, DCM_IntervalsAcquired, DCM_IntervalsRejected,
    DCM_PrimaryPromptsCountsAccumulated, DCM_SecondaryCountsAccumulated, DCM_SliceSensitivityFactor,
    DCM_DecayFactor, DCM_DoseCalibrationFactor, DCM_ScatterFractionFactor, DCM_DeadTimeFactor};

void copy_present(DcmItem& from, DcmItem& to, const DcmTagKey& tag) {
  DcmElement* element = nullptr;
  if (from.findAndGetElement(tag, element, OFFalse, OFTrue /* copy */).good() && element)
    to.insert(element, OFTrue /* replace */);
}

void put(DcmItem& item, const DcmTagKey& tag, const std::string& value) {
  const OFCondition status = item.putAndInsertString(tag, value.c_str());
  UNIPET_CHECK(status.good(), "cannot set DICOM tag " << DcmTag(tag).getTagName() << " (" << status.text() << ")");
}

DcmItem& new_item(DcmItem& parent, const DcmTagKey& sequence) {
  DcmItem* item = nullptr;
  const OFCondition status = parent.findOrCreateSequenceItem(sequence, item, -2 /* append */);
  UNIPET_CHECK(status.good() && item, "cannot add an item to " << DcmTag(sequence).getTagName());
  return *item;
}

// Texts are cut to their VR's maximum length (LO 64, ST 1024), so a long path never fails a write.
std::string fit(const std::string& text, size_t length) { return text.substr(0, length); }

}  // namespace

void copy_source_modules(DcmItem& source, DcmItem& series) {
  for (const auto& tag : kSeriesTags) copy_present(source, series, tag);
}

void copy_slice_timing(DcmItem& source_slice, DcmItem& slice) {
  for (const auto& tag : kSliceTags) copy_present(source_slice, slice, tag);
}

void fill_type2(DcmItem& series) {
  for (const auto& tag :
       {DCM_PatientBirthDate, DCM_PatientSex, DCM_StudyDate, DCM_StudyTime, DCM_StudyID, DCM_AccessionNumber,
        DCM_ReferringPhysicianName, DCM_PositionReferenceIndicator, DCM_Manufacturer, DCM_AcquisitionDate,
        DCM_AcquisitionTime, DCM_CorrectedImage, DCM_ActualFrameDuration, DCM_CollimatorType})
    if (!series.tagExists(tag)) put(series, tag, "");
  for (const auto& tag : {DCM_RadiopharmaceuticalInformationSequence, DCM_PatientOrientationCodeSequence,
                          DCM_PatientGantryRelationshipCodeSequence})
    if (!series.tagExists(tag)) series.insertEmptyElement(tag);
  // Laterality is Type 2C, required unless the body part says it is unpaired: empty means unknown.
  if (!series.tagExists(DCM_Laterality) && !series.tagExists(DCM_BodyPartExamined) &&
      !series.tagExists(DCM_ImageLaterality))
    put(series, DCM_Laterality, "");
  DcmItem* isotope = nullptr;
  for (signed long i = 0; series.findAndGetSequenceItem(DCM_RadiopharmaceuticalInformationSequence, isotope, i).good();
       ++i)
    if (isotope && !isotope->tagExists(DCM_RadionuclideCodeSequence))
      isotope->insertEmptyElement(DCM_RadionuclideCodeSequence);
}

void add_code(DcmItem& parent, const DcmTagKey& tag, const CodedConcept& code) {
  DcmItem& item = new_item(parent, tag);
  put(item, DCM_CodeValue, code.value);
  put(item, DCM_CodingSchemeDesignator, code.scheme);
  put(item, DCM_CodeMeaning, fit(code.meaning, 64));
}

void add_provenance(DcmItem& source, DcmItem& series, const Provenance& provenance, const std::string& now) {
  const std::string source_series = dicom_string(source, DCM_SeriesInstanceUID);
  const std::string described = describe(provenance);
  if (!source_series.empty()) {
    DcmItem& related = new_item(series, DCM_RelatedSeriesSequence);
    put(related, DCM_StudyInstanceUID, dicom_string(source, DCM_StudyInstanceUID));
    put(related, DCM_SeriesInstanceUID, source_series);
    add_code(related, DCM_PurposeOfReferenceCodeSequence,
             {"121323", "DCM", "Source series for image processing operation"});
  }
  put(series, DCM_DerivationDescription,
      fit(described + (source_series.empty() ? "" : " from series " + source_series), 1024));
  if (!provenance.derivation.value.empty())
    add_code(series, DCM_DerivationCodeSequence, provenance.derivation);
  DcmItem& equipment = new_item(series, DCM_ContributingEquipmentSequence);
  add_code(equipment, DCM_PurposeOfReferenceCodeSequence, {"109102", "DCM", "Processing Equipment"});
  put(equipment, DCM_Manufacturer, "unipet");
  put(equipment, DCM_ManufacturerModelName, "unipet");
  put(equipment, DCM_SoftwareVersions, fit(software_version(), 64));
  put(equipment, DCM_ContributionDateTime, now);
  put(equipment, DCM_ContributionDescription, fit(described, 1024));
}

void add_referenced_instance(DcmItem& series, const std::string& source_series_uid, const std::string& sop_class,
                             const std::string& sop_instance) {
  DcmItem* referenced = nullptr;
  if (series.findAndGetSequenceItem(DCM_ReferencedSeriesSequence, referenced, 0).bad() || !referenced) {
    referenced = &new_item(series, DCM_ReferencedSeriesSequence);
    put(*referenced, DCM_SeriesInstanceUID, source_series_uid);
  }
  DcmItem& instance = new_item(*referenced, DCM_ReferencedInstanceSequence);
  put(instance, DCM_ReferencedSOPClassUID, sop_class);
  put(instance, DCM_ReferencedSOPInstanceUID, sop_instance);
}

void set_source_image(DcmItem& slice, const std::string& sop_class, const std::string& sop_instance) {
  slice.findAndDeleteElement(DCM_SourceImageSequence);
  DcmItem& item = new_item(slice, DCM_SourceImageSequence);
  put(item, DCM_ReferencedSOPClassUID, sop_class);
  put(item, DCM_ReferencedSOPInstanceUID, sop_instance);
  add_code(item, DCM_PurposeOfReferenceCodeSequence,
           {"121322", "DCM", "Source image for image processing operation"});
}

}  // namespace unipet::io::detail
