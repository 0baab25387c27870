#pragma once
/// DICOM networking on dcmtk's network layer (DcmSCP, DcmStorageSCU); no DICOM types leak out.
///
///   unipet::io::StoreServerOptions o;  o.aet = "UNIPET";  o.port = 11112;
///   unipet::io::StoreServerHooks hooks;
///   hooks.store = [](const unipet::io::StoreRequest& r, const unipet::io::SaveInstance& save) {
///     save("/data/" + r.sop_instance_uid + ".dcm");
///     return unipet::io::StoreStatus::Success;
///   };
///   unipet::io::run_store_server(o, hooks);      // until hooks.stop() says so
///
///   auto result = unipet::io::send_dicom_files({"PACS", "pacs.local", 104}, "UNIPET", files);
///
/// The server answers C-ECHO and C-STORE, one association at a time (dcmtk's DcmSCP); every
/// storage SOP class is negotiated so that one the caller refuses gets a DIMSE status, not an
/// aborted association. Data sets arrive whole in memory (one at a time, so memory is bounded by
/// the largest instance) in the uncompressed, deflated, JPEG, JPEG-LS and RLE transfer syntaxes
/// that unipet's DICOM reader decodes.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace unipet::io {

/// A DICOM application entity on the network: "AET@host:port".
struct DicomPeer {
  std::string aet, host;
  int port = 104;
  std::string text() const { return aet + "@" + host + ":" + std::to_string(port); }
};

/// Parses "AET@host:port" (AET 1..16 characters without backslash or control characters, port
/// 1..65535). Throws unipet::Error naming `option` and what was typed.
DicomPeer parse_dicom_peer(const std::string& text, const std::string& option = "--forward");

/// Checks an application entity title (1..16 characters, no backslash, no control characters,
/// not all spaces). Throws unipet::Error naming `option`.
void check_ae_title(const std::string& aet, const std::string& option);

/// What the server knows of one C-STORE request before it is stored.
struct StoreRequest {
  int64_t association = 0;      ///< which association, counting from 1 per server run
  std::string calling_aet;
  std::string sop_class_uid;    ///< from the request (the data set must agree)
  std::string sop_instance_uid;
  std::string series_uid;       ///< SeriesInstanceUID of the data set ("" when absent)
  std::string modality;         ///< Modality of the data set
  /// NumberOfSlices x max(1, NumberOfTimeSlots) of a PET image, 0 when not given.
  int64_t expected_instances = 0;
  /// Why the data set is not a usable image: a missing or malformed UID, Rows/Columns or pixel
  /// data, pixel data shorter than the image, SOP class of request and data set differing; "" if
  /// usable.
  std::string problem;
};

/// DIMSE status of a C-STORE response.
enum class StoreStatus : uint16_t {
  Success = 0x0000,
  SopClassNotSupported = 0x0122,     ///< Refused: SOP Class not supported
  OutOfResources = 0xA700,           ///< Refused: out of resources (e.g. the disk is full)
  DataSetDoesNotMatchSopClass = 0xA900,  ///< Error: the data set is not what its class requires
};

/// Writes the received data set as a DICOM Part 10 file at the given path (its transfer syntax as
/// received). Throws unipet::Error naming the path when it cannot be written. It does not sync.
using SaveInstance = std::function<void(const std::string& path)>;

/// What happened to an association, for the caller's log.
struct AssociationEvent {
  enum class Kind { Accepted, Rejected, Released, Aborted };
  Kind kind = Kind::Accepted;
  int64_t association = 0;
  std::string calling_aet, called_aet, peer_ip;
  std::string reason;  ///< why it was rejected or aborted
};

struct StoreServerHooks {
  /// Called for each C-STORE; the returned status is sent back. An exception from it answers
  /// OutOfResources and is reported through `event` as an aborted association's reason.
  std::function<StoreStatus(const StoreRequest&, const SaveInstance&)> store;
  /// Association accepted, rejected, released or aborted (may be empty).
  std::function<void(const AssociationEvent&)> event;
  /// Polled about once a second and between associations: true stops the server.
  std::function<bool()> stop;
};

struct StoreServerOptions {
  std::string aet = "UNIPET";  ///< called AE title the server answers to (others are rejected)
  int port = 11112;
  /// Calling AE titles accepted; empty accepts any.
  std::vector<std::string> accepted_calling_aets;
  int acse_timeout_s = 30;   ///< association negotiation and release
  int dimse_timeout_s = 60;  ///< a peer silent this long inside an association is dropped
};

/// Listens on options.port and serves associations until hooks.stop() returns true. Throws
/// unipet::Error naming the port when it cannot be opened (in use, no permission).
void run_store_server(const StoreServerOptions& options, const StoreServerHooks& hooks);

/// Outcome of send_dicom_files.
struct SendResult {
  bool complete = false;  ///< every file was confirmed by the receiver
  std::string error;      ///< why not ("" when complete)
};

/// Sends `files` (DICOM Part 10) to `peer` in one association as `calling_aet`. After each
/// instance the receiver confirms (success or warning status), `confirmed(file)` is called, so
/// the caller can record it durably before the next one. `stop()` (may be empty) is asked between
/// instances. Never throws for network or peer failures: they are reported in SendResult::error.
SendResult send_dicom_files(const DicomPeer& peer, const std::string& calling_aet, const std::vector<std::string>& files,
                            const std::function<void(const std::string&)>& confirmed,
                            const std::function<bool()>& stop = {}, int timeout_s = 30);

}  // namespace unipet::io
