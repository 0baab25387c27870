#include "unipet/io/dicom_network.h"

#include <algorithm>
#include <cctype>
#include <exception>
#include <memory>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmnet/dstorscu.h>
#include <dcmtk/dcmnet/scp.h>

#include "dicom_common.h"
#include "unipet/core/error.h"

namespace unipet::io {

namespace {

constexpr const char* kPetImageStorage = "1.2.840.10008.5.1.4.1.1.128";

bool is_uid(const std::string& uid) {
  if (uid.empty() || uid.size() > 64 || uid.front() == '.' || uid.back() == '.') return false;
  return std::all_of(uid.begin(), uid.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

// The transfer syntaxes unipet's DICOM reader decodes (dicom_common.cpp registers the codecs).
OFList<OFString> storage_transfer_syntaxes() {
  OFList<OFString> ts;
  for (const char* uid :
       {UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax,
        UID_BigEndianExplicitTransferSyntax, UID_DeflatedExplicitVRLittleEndianTransferSyntax,
        UID_JPEGProcess14SV1TransferSyntax, UID_JPEGProcess14TransferSyntax, UID_JPEGProcess1TransferSyntax,
        UID_JPEGProcess2_4TransferSyntax, UID_JPEGLSLosslessTransferSyntax, UID_JPEGLSLossyTransferSyntax,
        UID_RLELosslessTransferSyntax})
    ts.push_back(uid);
  return ts;
}

std::string condition_text(const OFCondition& c) { return c.text() ? c.text() : "unknown dcmtk error"; }

// What is wrong with a received data set for unipet's reader, "" when nothing is.
std::string dataset_problem(DcmDataset& ds, const std::string& request_sop_class, StoreRequest& r) {
  const std::string sop_class = detail::dicom_string(ds, DCM_SOPClassUID);
  r.series_uid = detail::dicom_string(ds, DCM_SeriesInstanceUID);
  r.modality = detail::dicom_string(ds, DCM_Modality);
  const std::string sop = detail::dicom_string(ds, DCM_SOPInstanceUID);
  if (sop != r.sop_instance_uid) return "SOPInstanceUID of the data set (" + sop + ") differs from the request's";
  if (sop_class != request_sop_class) return "SOPClassUID of the data set (" + sop_class + ") differs from the request's";
  if (!is_uid(r.sop_instance_uid)) return "malformed SOPInstanceUID '" + r.sop_instance_uid + "'";
  if (!is_uid(r.series_uid)) return "missing or malformed SeriesInstanceUID '" + r.series_uid + "'";
  double rows = 0, columns = 0, bits = 0, frames = 1;
  if (!detail::dicom_number(ds, DCM_Rows, rows) || !detail::dicom_number(ds, DCM_Columns, columns) || rows < 1 ||
      columns < 1)
    return "no Rows or Columns";
  if (!detail::dicom_number(ds, DCM_BitsAllocated, bits) || (bits != 8 && bits != 16 && bits != 32))
    return "BitsAllocated missing or not 8, 16 or 32";
  detail::dicom_number(ds, DCM_NumberOfFrames, frames);
  DcmElement* pixels = nullptr;
  if (ds.findAndGetElement(DCM_PixelData, pixels).bad() || !pixels) return "no PixelData";
  // Encapsulated (compressed) pixel data is checked by the decoder when the series is read.
  const E_TransferSyntax xfer = ds.getOriginalXfer();
  if (!DcmXfer(xfer).isEncapsulated()) {
    const double needed = rows * columns * (bits / 8) * std::max(1.0, frames);
    if (static_cast<double>(pixels->getLength()) < needed)
      return "PixelData holds " + std::to_string(pixels->getLength()) + " bytes, the image needs " +
             std::to_string(static_cast<long long>(needed));
  }
  double slices = 0, time_slots = 0;
  if (detail::dicom_number(ds, DCM_NumberOfSlices, slices) && slices >= 1) {
    detail::dicom_number(ds, DCM_NumberOfTimeSlots, time_slots);
    r.expected_instances = static_cast<int64_t>(slices) * std::max<int64_t>(1, static_cast<int64_t>(time_slots));
  }
  return "";
}

class StoreServer : public DcmSCP {
 public:
  StoreServer(const StoreServerOptions& options, const StoreServerHooks& hooks) : options_(options), hooks_(hooks) {
    setAETitle(options.aet.c_str());
    setPort(static_cast<Uint16>(options.port));
    setConnectionBlockingMode(DUL_NOBLOCK);
    setConnectionTimeout(1);
    setACSETimeout(static_cast<Uint32>(options.acse_timeout_s));
    setDIMSEBlockingMode(DIMSE_NONBLOCKING);
    setDIMSETimeout(static_cast<Uint32>(options.dimse_timeout_s));
    setHostLookupEnabled(OFFalse);
    OFList<OFString> verification;
    verification.push_back(UID_LittleEndianImplicitTransferSyntax);
    verification.push_back(UID_LittleEndianExplicitTransferSyntax);
    verification.push_back(UID_BigEndianExplicitTransferSyntax);
    addPresentationContext(UID_VerificationSOPClass, verification);
    // Every storage class is negotiated, so that one unipet does not take gets a DIMSE status.
    const auto storage = storage_transfer_syntaxes();
    for (int i = 0; i < numberOfDcmAllStorageSOPClassUIDs; ++i)
      addPresentationContext(dcmAllStorageSOPClassUIDs[i], storage);
  }

  bool port_opened = false;
  std::string port_problem;

 protected:
  OFCondition openListenPort() override {
    const OFCondition c = DcmSCP::openListenPort();
    port_opened = c.good();
    if (c.bad()) port_problem = condition_text(c);
    return c;
  }

  OFBool checkCalledAETitleAccepted(const OFString& called) override {
    if (std::string(called.c_str()) == options_.aet) return OFTrue;
    reject(called.c_str(), "called AE title '" + std::string(called.c_str()) + "' is not " + options_.aet);
    return OFFalse;
  }

  OFBool checkCallingAETitleAccepted(const OFString& calling) override {
    const auto& ok = options_.accepted_calling_aets;
    if (ok.empty() || std::find(ok.begin(), ok.end(), std::string(calling.c_str())) != ok.end()) return OFTrue;
    calling_ = calling.c_str();
    reject("", "calling AE title '" + calling_ + "' is not in --accept-aet");
    return OFFalse;
  }

  void notifyAssociationAcknowledge() override {
    ++association_;
    released_ = false;
    problem_.clear();
    calling_ = getPeerAETitle().c_str();
    event(AssociationEvent::Kind::Accepted, "");
  }

  void notifyReleaseRequest() override { released_ = true; }
  void notifyDIMSEError(const OFCondition& c) override { problem_ = condition_text(c); }

  void notifyAssociationTermination() override {
    if (released_)
      event(AssociationEvent::Kind::Released, "");
    else
      event(AssociationEvent::Kind::Aborted, problem_.empty() ? "the peer aborted or dropped the connection" : problem_);
  }

  OFBool stopAfterConnectionTimeout() override { return stop(); }
  OFBool stopAfterCurrentAssociation() override { return stop(); }

  OFCondition handleIncomingCommand(T_DIMSE_Message* message, const DcmPresentationContextInfo& info) override {
    if (message->CommandField != DIMSE_C_STORE_RQ) return DcmSCP::handleIncomingCommand(message, info);
    T_DIMSE_C_StoreRQ& request = message->msg.CStoreRQ;
    DcmDataset* received = nullptr;
    const OFCondition c = receiveSTORERequest(request, info.presentationContextID, received);
    std::unique_ptr<DcmDataset> dataset(received);
    if (c.bad()) {
      problem_ = "C-STORE data set not received: " + condition_text(c);
      return c;
    }
    StoreRequest r;
    r.association = association_;
    r.calling_aet = calling_;
    r.sop_class_uid = request.AffectedSOPClassUID;
    r.sop_instance_uid = request.AffectedSOPInstanceUID;
    r.problem = dataset ? dataset_problem(*dataset, r.sop_class_uid, r) : "no data set";
    const E_TransferSyntax xfer = dataset ? dataset->getOriginalXfer() : EXS_Unknown;
    SaveInstance save = [&](const std::string& path) {
      DcmFileFormat file(dataset.get());
      const E_TransferSyntax out = xfer == EXS_Unknown ? EXS_LittleEndianExplicit : xfer;
      const OFCondition s = file.saveFile(path.c_str(), out, EET_ExplicitLength, EGL_recalcGL, EPD_noChange, 0, 0,
                                          EWM_fileformat);
      UNIPET_CHECK(s.good(), path << ": cannot write the received instance: " << condition_text(s));
    };
    StoreStatus status = StoreStatus::OutOfResources;
    try {
      status = hooks_.store(r, save);
    } catch (const std::exception& e) {
      problem_ = e.what();
    }
    return sendSTOREResponse(info.presentationContextID, request, static_cast<Uint16>(status));
  }

 private:
  bool stop() { return hooks_.stop && hooks_.stop(); }

  void reject(const std::string& called, const std::string& reason) {
    if (!hooks_.event) return;
    AssociationEvent e;
    e.kind = AssociationEvent::Kind::Rejected;
    e.calling_aet = calling_;
    e.called_aet = called;
    e.peer_ip = getPeerIP().c_str();
    e.reason = reason;
    hooks_.event(e);
  }

  void event(AssociationEvent::Kind kind, const std::string& reason) {
    if (!hooks_.event) return;
    AssociationEvent e;
    e.kind = kind;
    e.association = association_;
    e.calling_aet = calling_;
    e.called_aet = options_.aet;
    e.peer_ip = getPeerIP().c_str();
    e.reason = reason;
    hooks_.event(e);
  }

  StoreServerOptions options_;
  const StoreServerHooks& hooks_;
  int64_t association_ = 0;
  bool released_ = false;
  std::string calling_, problem_;
};

class Sender : public DcmStorageSCU {
 public:
  Sender(const std::function<void(const std::string&)>& confirmed, const std::function<bool()>& stop)
      : confirmed_(confirmed), stop_(stop) {}
  std::string refused;  ///< the first instance the receiver did not confirm, and its status

 protected:
  void notifySOPInstanceSent(const TransferEntry& entry) override {
    // Success (0x0000) and warnings (0x0001, 0xBxxx) mean the receiver took the instance.
    const Uint16 s = entry.ResponseStatusCode;
    if (entry.RequestSent && (s == 0x0000 || s == 0x0001 || (s & 0xF000) == 0xB000)) {
      if (confirmed_) confirmed_(entry.Filename.getCharPointer());
    } else if (refused.empty()) {
      char code[8];
      std::snprintf(code, sizeof(code), "%04X", s);
      refused = std::string(entry.Filename.getCharPointer()) +
                (entry.RequestSent ? std::string(": refused with status 0x") + code : ": not sent");
    }
  }
  OFBool shouldStopAfterCurrentSOPInstance() override { return stop_ && stop_(); }

 private:
  std::function<void(const std::string&)> confirmed_;
  std::function<bool()> stop_;
};

}  // namespace

void check_ae_title(const std::string& aet, const std::string& option) {
  const bool printable = std::all_of(aet.begin(), aet.end(), [](char c) {
    return std::isprint(static_cast<unsigned char>(c)) && c != '\\';
  });
  UNIPET_CHECK(!aet.empty() && aet.size() <= 16 && printable && aet.find_first_not_of(' ') != std::string::npos,
               option << ": '" << aet << "' is not an AE title (1 to 16 characters, no backslash)");
}

DicomPeer parse_dicom_peer(const std::string& text, const std::string& option) {
  const auto at = text.find('@');
  const auto colon = text.rfind(':');
  UNIPET_CHECK(at != std::string::npos && colon != std::string::npos && colon > at + 1,
               option << ": '" << text << "' is not AET@host:port (e.g. PACS@10.0.0.5:104)");
  DicomPeer peer;
  peer.aet = text.substr(0, at);
  peer.host = text.substr(at + 1, colon - at - 1);
  check_ae_title(peer.aet, option);
  const std::string port = text.substr(colon + 1);
  UNIPET_CHECK(!port.empty() && port.size() <= 5 && std::all_of(port.begin(), port.end(), ::isdigit) &&
                   std::stoi(port) >= 1 && std::stoi(port) <= 65535,
               option << ": port '" << port << "' in '" << text << "' is not 1..65535");
  peer.port = std::stoi(port);
  return peer;
}

void run_store_server(const StoreServerOptions& options, const StoreServerHooks& hooks) {
  UNIPET_CHECK(hooks.store, "run_store_server: no store hook");
  detail::init_dcmtk();
  StoreServer server(options, hooks);
  // DcmSCP returns from listen() after an error on one connection; serving goes on until asked
  // to stop, but a port that cannot be opened is the caller's error.
  while (!(hooks.stop && hooks.stop())) {
    const OFCondition c = server.listen();
    UNIPET_CHECK(server.port_opened, "--port " << options.port << ": cannot listen: " << server.port_problem);
    if (c.bad() && hooks.event) {
      AssociationEvent e;
      e.kind = AssociationEvent::Kind::Aborted;
      e.reason = "listener restarted after: " + condition_text(c);
      hooks.event(e);
    }
  }
}

SendResult send_dicom_files(const DicomPeer& peer, const std::string& calling_aet, const std::vector<std::string>& files,
                            const std::function<void(const std::string&)>& confirmed, const std::function<bool()>& stop,
                            int timeout_s) {
  detail::init_dcmtk();
  SendResult result;
  if (files.empty()) {
    result.complete = true;
    return result;
  }
  Sender scu(confirmed, stop);
  scu.setAETitle(calling_aet.c_str());
  scu.setPeerAETitle(peer.aet.c_str());
  scu.setPeerHostName(peer.host.c_str());
  scu.setPeerPort(static_cast<Uint16>(peer.port));
  scu.setACSETimeout(static_cast<Uint32>(timeout_s));
  scu.setDIMSETimeout(static_cast<Uint32>(timeout_s));
  scu.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
  scu.setConnectionTimeout(timeout_s);
  for (const auto& f : files) {
    const OFCondition c = scu.addDicomFile(f.c_str(), ERM_fileOnly, OFFalse);
    if (c.bad()) {
      result.error = f + ": cannot be sent: " + condition_text(c);
      return result;
    }
  }
  OFCondition c = scu.addPresentationContexts();
  if (c.good()) c = scu.initNetwork();
  if (c.good()) c = scu.negotiateAssociation();
  if (c.bad()) {
    result.error = "association with " + peer.text() + " failed: " + condition_text(c);
    return result;
  }
  c = scu.sendSOPInstances();
  if (c.bad()) {
    result.error = "sending to " + peer.text() + " failed: " + condition_text(c);
    scu.abortAssociation();
    return result;
  }
  scu.releaseAssociation();
  if (!scu.refused.empty()) {
    result.error = peer.text() + ": " + scu.refused;
    return result;
  }
  result.complete = !(stop && stop());
  if (!result.complete) result.error = "stopped";
  return result;
}

}  // namespace unipet::io
