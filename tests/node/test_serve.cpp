// `unipet serve` as a DICOM node on loopback, with dcmtk's own tools (echoscu, storescu,
// storescp) as the other side and dicom3tools' dciodvfy checking what arrives.
#include <algorithm>
#include <filesystem>
#include <iterator>
#include <set>

#include <gtest/gtest.h>

#include "infer/infer_test_util.h"
#include "io/dicom_validators.h"
#include "node/node_test_util.h"
#include "unipet/io/dicom.h"
#include "unipet/io/suv.h"

namespace unipet::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kSeries = "1.2.826.0.1.3680043.99.250";

std::string series_files(const std::string& folder, int first = 0, int last = 5) {
  std::string words;
  for (int k = first; k <= last; ++k) words += " " + q(folder + "/" + std::to_string(k) + ".dcm");
  return words;
}

json status_json(const std::string& work) {
  const auto r = unipet_cli("serve --status " + q(work) + " --json");
  const auto j = json::parse(r.output, nullptr, false);
  return j.is_object() ? j : json::object();
}

int count_in_state(const std::string& work, const std::string& state) {
  return status_json(work)["counts"].value(state, -1);
}

// Each SOP instance of the derived series once at the receiver: as many distinct UIDs as files.
void expect_each_instance_once(const std::string& rx, size_t instances) {
  const auto uids = sop_instance_uids(rx);
  EXPECT_EQ(uids.size(), instances);
  EXPECT_EQ(std::set<std::string>(uids.begin(), uids.end()).size(), instances);
  EXPECT_EQ(io::list_dicom_series(rx).size(), 1u);
}

TEST(Serve, EchoReachesTheNodeAndCallingAetsOutsideAcceptAetAreRejected) {
  TempDir dir;
  save_identity_model(dir / "id.safetensors");
  Node node(dir / "work", free_port(), dir / "id.safetensors", "--accept-aet ECHOSCU,SCANNER", dir / "node.log");
  ASSERT_TRUE(node.started()) << read_bytes(dir / "node.log");
  EXPECT_EQ(node.echo("SCANNER").status, 0);
  const auto intruder = node.echo("INTRUDER");
  EXPECT_NE(intruder.status, 0) << intruder.output;
  EXPECT_NE(intruder.output.find("Calling AE Title Not Recognized"), std::string::npos) << intruder.output;
  EXPECT_NE(node.echo("SCANNER", "SOMEONE").status, 0);
  EXPECT_EQ(node.echo("SCANNER").status, 0);
  const auto rejected = log_events(dir / "node.log", "association_rejected");
  ASSERT_EQ(rejected.size(), 2u);
  EXPECT_NE(rejected[0].value("reason", "").find("INTRUDER"), std::string::npos) << rejected[0];
  EXPECT_NE(rejected[1].value("reason", "").find("SOMEONE"), std::string::npos) << rejected[1];
  EXPECT_EQ(node.process().terminate(), 0);
  EXPECT_EQ(node.count("node_stopped"), 1u);
}

TEST(Serve, AStoredPetSeriesArrivesDenoisedAsAValidDerivedSeriesWithTheSameSuv) {
  TempDir dir;
  save_identity_model(dir / "id.safetensors");
  write_test_series(dir / "pet", kSeries);
  Receiver pacs(dir / "rx", dir / "rx.log");
  Node node(dir / "work", pacs.port(), dir / "id.safetensors", "", dir / "node.log");
  ASSERT_TRUE(node.started()) << read_bytes(dir / "node.log");
  const auto sent = node.store(series_files(dir / "pet"));
  ASSERT_EQ(sent.status, 0) << sent.output;
  ASSERT_TRUE(wait_until([&] { return count_in_state(dir / "work", "sent") == 1 && pacs.files() == 6; }, 20))
      << read_bytes(dir / "node.log");
  expect_each_instance_once(dir / "rx", 6);
  EXPECT_EQ(dicom_validation_errors(dir / "rx"), "");
  const auto in = io::read_dicom_series(dir / "pet");
  const auto out = io::read_dicom_series(dir / "rx");
  EXPECT_EQ(out.derivation.image_type, "DERIVED\\PRIMARY\\DENOISED");
  EXPECT_EQ(out.derivation.source_series_uid, kSeries);
  // SUV of every voxel within 0.1% of the source's (the identity model returns its input).
  const double in_factor = io::suv_factor(in.suv_tags).factor, out_factor = io::suv_factor(out.suv_tags).factor;
  EXPECT_NEAR(out_factor / in_factor, 1.0, 1e-9);
  const auto suv_in = in.volume.data * in_factor, suv_out = out.volume.data * out_factor;
  const auto bright = suv_in > 0.1 * suv_in.max().item<double>();
  EXPECT_LE(((suv_out - suv_in).abs() / suv_in.clamp_min(1e-6)).masked_select(bright).max().item<double>(), 1e-3);
  EXPECT_LE((suv_out - suv_in).abs().max().item<double>(), 1e-3 * suv_in.max().item<double>());
  // Status and log: one JSON object per line, the series sent with its times.
  const json status = status_json(dir / "work");
  ASSERT_EQ(status["series"].size(), 1u) << status;
  EXPECT_EQ(status["series"][0]["series_uid"], kSeries);
  EXPECT_EQ(status["series"][0]["instances"], 6);
  EXPECT_NE(status["series"][0]["sent_at"], "");
  const auto table = unipet_cli("serve --status " + q(dir / "work"));
  EXPECT_NE(table.output.find("1 sent"), std::string::npos) << table.output;
  std::ifstream log(dir / "node.log");
  for (std::string line; std::getline(log, line);) {
    const auto j = json::parse(line, nullptr, false);
    EXPECT_TRUE(j.is_object() && j.contains("event") && j.contains("time")) << line;
  }
  EXPECT_EQ(node.count("instance_stored"), 6u);
  EXPECT_EQ(node.count("series_sent"), 1u);
}

TEST(Serve, KilledMidSeriesAndRestartedTheSeriesArrivesExactlyOnce) {
  TempDir dir;
  save_identity_model(dir / "id.safetensors");
  write_test_series(dir / "pet", kSeries);
  Receiver pacs(dir / "rx", dir / "rx.log");
  {
    Node node(dir / "work", pacs.port(), dir / "id.safetensors", "--quiet-seconds 120", dir / "node1.log");
    ASSERT_TRUE(node.started()) << read_bytes(dir / "node1.log");
    // Half the series in one association: not complete (NumberOfSlices is 6), so it waits.
    ASSERT_EQ(node.store(series_files(dir / "pet", 0, 2)).status, 0);
    ASSERT_EQ(node.count("instance_stored"), 3u);
    node.process().kill9();
  }
  EXPECT_EQ(count_in_state(dir / "work", "received"), 1);
  Node node(dir / "work", pacs.port(), dir / "id.safetensors", "--quiet-seconds 120", dir / "node2.log");
  ASSERT_TRUE(node.started()) << read_bytes(dir / "node2.log");
  // The scanner sends the whole series again: the three stored instances are duplicates.
  ASSERT_EQ(node.store(series_files(dir / "pet")).status, 0);
  ASSERT_TRUE(wait_until([&] { return count_in_state(dir / "work", "sent") == 1; }, 20)) << read_bytes(dir / "node2.log");
  EXPECT_EQ(node.count("instance_duplicate"), 3u);
  EXPECT_EQ(node.count("instance_stored"), 3u);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  expect_each_instance_once(dir / "rx", 6);
  EXPECT_EQ(status_json(dir / "work")["series"].size(), 1u);
}

TEST(Serve, KilledMidSendAndRestartedOnlyWhatTheReceiverDidNotConfirmIsSentAgain) {
  TempDir dir;
  save_identity_model(dir / "id.safetensors");
  write_test_series(dir / "pet", kSeries);
  // A slow receiver: a second per instance, so the node is killed in the middle of the send.
  Receiver pacs(dir / "rx", dir / "rx.log", "--sleep-during 1");
  {
    Node node(dir / "work", pacs.port(), dir / "id.safetensors", "", dir / "node1.log");
    ASSERT_TRUE(node.started()) << read_bytes(dir / "node1.log");
    ASSERT_EQ(node.store(series_files(dir / "pet")).status, 0);
    ASSERT_TRUE(wait_until([&] { return pacs.files() >= 2; }, 20)) << read_bytes(dir / "node1.log");
    node.process().kill9();
  }
  EXPECT_EQ(count_in_state(dir / "work", "sending"), 1);
  Node node(dir / "work", pacs.port(), dir / "id.safetensors", "", dir / "node2.log");
  ASSERT_TRUE(node.started()) << read_bytes(dir / "node2.log");
  ASSERT_TRUE(wait_until([&] { return count_in_state(dir / "work", "sent") == 1; }, 25)) << read_bytes(dir / "node2.log");
  const auto resumed = log_events(dir / "node2.log", "send_started");
  ASSERT_FALSE(resumed.empty());
  EXPECT_GE(resumed.front().value("already_confirmed", 0), 1) << resumed.front();
  // Every instance arrived; at most the one in flight at the kill (never confirmed) arrived twice.
  const auto uids = sop_instance_uids(dir / "rx");
  EXPECT_EQ(std::set<std::string>(uids.begin(), uids.end()).size(), 6u);
  EXPECT_LE(uids.size(), 7u);
  EXPECT_EQ(node.count("series_sent"), 1u);
}

TEST(Serve, AReceiverDownForAWhileGetsTheSeriesWhenItComesBack) {
  TempDir dir;
  save_identity_model(dir / "id.safetensors");
  write_test_series(dir / "pet", kSeries);
  const int pacs_port = free_port();
  Node node(dir / "work", pacs_port, dir / "id.safetensors", "--retry-seconds 1 --max-attempts 20",
            dir / "node.log");
  ASSERT_TRUE(node.started()) << read_bytes(dir / "node.log");
  ASSERT_EQ(node.store(series_files(dir / "pet")).status, 0);
  ASSERT_TRUE(wait_until([&] { return node.count("send_failed") >= 2; }, 15)) << read_bytes(dir / "node.log");
  EXPECT_EQ(count_in_state(dir / "work", "sending"), 1);
  Receiver pacs(dir / "rx", dir / "rx.log", "", pacs_port);
  ASSERT_TRUE(wait_until([&] { return count_in_state(dir / "work", "sent") == 1; }, 20)) << read_bytes(dir / "node.log");
  expect_each_instance_once(dir / "rx", 6);
  EXPECT_GE(status_json(dir / "work")["series"][0].value("attempts", 0), 2);
}

TEST(Serve, AReceiverThatNeverComesBackLeavesTheSeriesInDeadLetterWithTheReason) {
  TempDir dir;
  save_identity_model(dir / "id.safetensors");
  write_test_series(dir / "pet", kSeries);
  Node node(dir / "work", free_port(), dir / "id.safetensors", "--retry-seconds 0.2 --max-attempts 3",
            dir / "node.log");
  ASSERT_TRUE(node.started()) << read_bytes(dir / "node.log");
  ASSERT_EQ(node.store(series_files(dir / "pet")).status, 0);
  ASSERT_TRUE(wait_until([&] { return count_in_state(dir / "work", "dead-letter") == 1; }, 20))
      << read_bytes(dir / "node.log");
  EXPECT_EQ(node.count("send_failed"), 2u);
  const std::string reason = read_bytes(dir / ("work/dead-letter/" + std::string(kSeries) + "/REASON.txt"));
  EXPECT_NE(reason.find("failed 3 times"), std::string::npos) << reason;
  EXPECT_NE(reason.find("PACS@127.0.0.1"), std::string::npos) << reason;
  const auto table = unipet_cli("serve --status " + q(dir / "work"));
  EXPECT_NE(table.output.find("dead-letter"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("failed 3 times"), std::string::npos) << table.output;
  // The derived series is kept, ready to be sent by hand.
  EXPECT_EQ(files_in(dir / ("work/dead-letter/" + std::string(kSeries) + "/derived")).size(), 6u);
}

TEST(Serve, AnIncompleteSeriesIsProcessedAfterTheQuietTime) {
  TempDir dir;
  save_identity_model(dir / "id.safetensors");
  write_test_series(dir / "pet", kSeries);
  Receiver pacs(dir / "rx", dir / "rx.log");
  Node node(dir / "work", pacs.port(), dir / "id.safetensors", "--quiet-seconds 1", dir / "node.log");
  ASSERT_TRUE(node.started()) << read_bytes(dir / "node.log");
  ASSERT_EQ(node.store(series_files(dir / "pet", 0, 3)).status, 0);
  ASSERT_TRUE(wait_until([&] { return count_in_state(dir / "work", "sent") == 1; }, 20)) << read_bytes(dir / "node.log");
  const auto queued = log_events(dir / "node.log", "series_queued");
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_NE(queued[0].value("why", "").find("quiet"), std::string::npos) << queued[0];
  expect_each_instance_once(dir / "rx", 4);
}

TEST(Serve, HostileInputIsRefusedOrHandledAndTheNodeKeepsServing) {
  TempDir dir;
  save_identity_model(dir / "id.safetensors");
  write_test_series(dir / "pet", kSeries);
  // A CT image; a PET image whose Modality says CT; a PET image with half its pixel data.
  write_pet_series(dir / "ct", "1.2.826.0.1.3680043.99.251", 1, 3.0, 10, 12, test_slice_values, 2.0, [](RawDicom& d) {
    d.set(0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.2").set(0x0008, 0x0060, "CS", "CT");
  });
  write_pet_series(dir / "mislabelled", "1.2.826.0.1.3680043.99.252", 1, 3.0, 10, 12, test_slice_values, 2.0,
                   [](RawDicom& d) { d.set(0x0008, 0x0060, "CS", "CT"); });
  write_pet_series(dir / "short", "1.2.826.0.1.3680043.99.253", 1, 3.0, 10, 12, test_slice_values, 2.0,
                   [](RawDicom& d) { d.set(0x7FE0, 0x0010, "OW", d.get(0x7FE0, 0x0010).substr(0, 120)); });
  Receiver pacs(dir / "rx", dir / "rx.log");
  Node node(dir / "work", pacs.port(), dir / "id.safetensors", "--accept-aet SCANNER,ECHOSCU,STORESCU",
            dir / "node.log");
  ASSERT_TRUE(node.started()) << read_bytes(dir / "node.log");
  // A first series warms the node up (the model's first run allocates LibTorch's pools and
  // threads once), so what follows measures growth, not the first denoise.
  write_test_series(dir / "warm", "1.2.826.0.1.3680043.99.249");
  node.store(series_files(dir / "warm"));
  ASSERT_TRUE(wait_until([&] { return count_in_state(dir / "work", "sent") == 1; }, 25)) << read_bytes(dir / "node.log");
  const long rss_before = node.process().rss_kb();

  node.store(q(dir / "ct/0.dcm"));
  node.store(q(dir / "mislabelled/0.dcm"));
  node.store(q(dir / "short/0.dcm"));
  const auto refused = log_events(dir / "node.log", "instance_refused");
  ASSERT_EQ(refused.size(), 3u) << read_bytes(dir / "node.log");
  EXPECT_EQ(refused[0].value("status", 0), 0x0122) << refused[0];
  EXPECT_EQ(refused[1].value("status", 0), 0xA900) << refused[1];
  EXPECT_NE(refused[1].value("reason", "").find("Modality"), std::string::npos) << refused[1];
  EXPECT_EQ(refused[2].value("status", 0), 0xA900) << refused[2];
  EXPECT_NE(refused[2].value("reason", "").find("PixelData"), std::string::npos) << refused[2];
  EXPECT_EQ(count_in_state(dir / "work", "received"), 0);

  // A file cut in the middle: storescu sends what dcmtk can read of it, or nothing.
  const std::string whole = read_bytes(dir / "pet/0.dcm");
  write_bytes(dir / "cut.dcm", whole.substr(0, whole.size() - 100));
  node.store(q(dir / "cut.dcm"));
  // Garbage at the port: random bytes, and an A-ASSOCIATE-RQ header promising more than follows.
  const std::string port = std::to_string(node.port());
  run_command("timeout 5 bash -c 'head -c 65536 /dev/urandom > /dev/tcp/127.0.0.1/" + port + "'");
  run_command("timeout 5 bash -c 'printf \"\\x01\\x00\\x7f\\xff\\xff\\xff\\x00\\x01\" > /dev/tcp/127.0.0.1/" + port +
              "'");
  run_command("timeout 5 bash -c 'head -c 300 /dev/urandom | (printf \"\\x01\\x00\\x00\\x00\\x01\\x2c\"; cat) > "
              "/dev/tcp/127.0.0.1/" +
              port + "'");
  EXPECT_EQ(node.echo("ECHOSCU").status, 0);

  // 20 associations at once: 10 echoes and 10 senders of the same series.
  std::string burst = "pids=''; ";
  for (int i = 0; i < 10; ++i) {
    burst += "echoscu -to 20 -aec UNIPET 127.0.0.1 " + port + " & pids=\"$pids $!\"; ";
    burst += "storescu -to 20 -aet SCANNER -aec UNIPET 127.0.0.1 " + port + series_files(dir / "pet") +
             " & pids=\"$pids $!\"; ";
  }
  burst += "failed=0; for p in $pids; do wait $p || failed=$((failed+1)); done; echo failed=$failed";
  const auto r = run_command("bash -c " + q(burst));
  EXPECT_NE(r.output.find("failed=0"), std::string::npos) << r.output;
  ASSERT_TRUE(wait_until([&] { return count_in_state(dir / "work", "sent") == 2; }, 25)) << read_bytes(dir / "node.log");
  EXPECT_EQ(node.count("instance_stored"), 12u);
  EXPECT_EQ(node.count("instance_duplicate"), 54u);
  const auto uids = sop_instance_uids(dir / "rx");
  EXPECT_EQ(uids.size(), 12u);
  EXPECT_EQ(std::set<std::string>(uids.begin(), uids.end()).size(), 12u);
  EXPECT_EQ(io::list_dicom_series(dir / "rx").size(), 2u);
  EXPECT_TRUE(node.process().running());
  EXPECT_EQ(node.echo("ECHOSCU").status, 0);
  // Bounded memory: after the warm-up, the hostile input, the burst and a second denoise cost no
  // more than 100 MB.
  EXPECT_LT(node.process().rss_kb() - rss_before, 100 * 1024) << rss_before;
}

TEST(Serve, BadOptionsAndASharedWorkFolderAreOneLineErrors) {
  TempDir dir;
  save_identity_model(dir / "id.safetensors");
  const std::string model = " -m " + q(dir / "id.safetensors");
  auto r = unipet_cli("serve --forward PACS --work " + q(dir / "w") + model);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(error_line(r).find("--forward"), std::string::npos) << r.output;
  r = unipet_cli("serve --forward PACS@host:99999 --work " + q(dir / "w") + model);
  EXPECT_NE(error_line(r).find("port"), std::string::npos) << r.output;
  r = unipet_cli("serve --forward PACS@127.0.0.1:104 --work " + q(dir / "w") + " --aet WAY_TOO_LONG_AE_TITLE" + model);
  EXPECT_NE(error_line(r).find("--aet"), std::string::npos) << r.output;
  r = unipet_cli("serve --forward PACS@127.0.0.1:104 --work " + q(dir / "w") + " --quiet-seconds 0" + model);
  EXPECT_NE(error_line(r).find("--quiet-seconds"), std::string::npos) << r.output;
  r = unipet_cli("serve --forward PACS@127.0.0.1:104" + model);
  EXPECT_NE(error_line(r).find("--work"), std::string::npos) << r.output;
  // Someone's folder of files, or a file, as the work folder: refused, and left as it was.
  fs::create_directories(dir / "mine");
  write_bytes(dir / "mine/notes.txt", "precious");
  write_bytes(dir / "a-file", "precious");
  for (const std::string work : {"mine", "a-file"}) {
    r = unipet_cli("serve --forward PACS@127.0.0.1:104 --work " + q(dir / work) + model);
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(error_line(r).find("--work " + (dir / work)), std::string::npos) << r.output;
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(dir / "mine"), fs::directory_iterator()), 1);
  EXPECT_EQ(read_bytes(dir / "a-file"), "precious");
  r = unipet_cli("serve --status " + q(dir / "nothing"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(error_line(r).find("nothing"), std::string::npos) << r.output;
  // A second node on the same work folder, or on a port in use, is refused.
  Node node(dir / "work", free_port(), dir / "id.safetensors", "", dir / "node.log");
  ASSERT_TRUE(node.started()) << read_bytes(dir / "node.log");
  r = unipet_cli("serve --port " + std::to_string(free_port()) + " --forward PACS@127.0.0.1:104 --work " +
                 q(dir / "work") + model);
  EXPECT_NE(error_line(r).find("another unipet serve"), std::string::npos) << r.output;
  r = unipet_cli("serve --port " + std::to_string(node.port()) + " --forward PACS@127.0.0.1:104 --work " +
                 q(dir / "work2") + model);
  EXPECT_NE(error_line(r).find("--port"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace unipet::test
