// The engine's life cycle: Engine::Open validates the projection specs, starts a new projection
// at generation 1 with its tables as families, drops the families interrupted rebuilds and
// checks left behind; unknown names and jobs are not found; Stop is idempotent.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "engine_test_util.h"

namespace cairn {
namespace {

using namespace std::chrono_literals;
using namespace testing;

TEST_CASE("Engine::Open rejects bad projection specs as invalid arguments") {
  TempDir dir;
  Harness h(dir.path());
  auto hooks = std::make_shared<Hooks>();
  auto open = [&](std::vector<ProjectionSpec> specs) {
    return Engine::Open(h.log.get(), std::move(specs), NoThreads()).status();
  };
  auto with_name = [&](std::string name) {
    ProjectionSpec s = PaymentsSpec();
    s.name = std::move(name);
    return s;
  };

  for (const char* bad : {"", "Upper", "with-dash", "with space", "dot.ted", "slash/"}) {
    CAPTURE(bad);
    CHECK(open({with_name(bad)}).code() == ErrorCode::kInvalidArgument);
  }
  CHECK(open({PaymentsSpec(), PaymentsSpec()}).code() == ErrorCode::kInvalidArgument);

  ProjectionSpec no_tables = PaymentsSpec();
  no_tables.tables.clear();
  CHECK(open({no_tables}).code() == ErrorCode::kInvalidArgument);

  ProjectionSpec bad_table = PaymentsSpec();
  bad_table.tables = {"ok", "Not-OK"};
  CHECK(open({bad_table}).code() == ErrorCode::kInvalidArgument);

  ProjectionSpec no_handler = PaymentsSpec();
  no_handler.handler = nullptr;
  CHECK(open({no_handler}).code() == ErrorCode::kInvalidArgument);

  // And a good set opens.
  CHECK(open(AllSpecs(hooks)).ok());
}

TEST_CASE("a new projection starts at generation 1 with checkpoint 0 and its tables as families") {
  TempDir dir;
  Harness h(dir.path());
  auto specs = AllSpecs(std::make_shared<Hooks>());
  h.OpenEngine(specs, NoThreads());
  for (const ProjectionSpec& spec : specs) {
    CAPTURE(spec.name);
    const ProjectionStatus s = h.StatusOf(spec.name);
    CHECK(s.name == spec.name);
    CHECK(s.generation == 1);
    CHECK(s.checkpoint == Seq(0));
    CHECK(s.error.empty());
    CHECK(!s.failed_at.has_value());
    CHECK(h.Read(spec.name)->generation() == 1);
    CHECK(FamiliesOf(*h.store, spec.name) == FamiliesOfGeneration(spec, 1));
  }
  CHECK(h.engine->Statuses().size() == 3);
}

TEST_CASE("unknown projection names and job ids are not found") {
  TempDir dir;
  Harness h(dir.path());
  h.OpenEngine(AllSpecs(std::make_shared<Hooks>()), NoThreads());
  CHECK(h.engine->GetStatus("nope").status().code() == ErrorCode::kNotFound);
  CHECK(h.engine->Read("nope").status().code() == ErrorCode::kNotFound);
  CHECK(h.engine->WaitForSeq("nope", Seq(0), 10ms).code() == ErrorCode::kNotFound);
  CHECK(h.engine->Restart("nope").code() == ErrorCode::kNotFound);
  CHECK(h.engine->StartRebuild({"nope"}).status().code() == ErrorCode::kNotFound);
  CHECK(h.engine->StartRebuild({"counts", "nope"}).status().code() == ErrorCode::kNotFound);
  CHECK(h.engine->GetRebuild(12345).status().code() == ErrorCode::kNotFound);
  CHECK(h.engine->WaitForRebuild(12345).status().code() == ErrorCode::kNotFound);
  CheckOptions check;
  check.projections = {"nope"};
  CHECK(h.engine->Check(check).status().code() == ErrorCode::kNotFound);
  // A refused StartRebuild leaves nothing rebuilding.
  CHECK(h.StatusOf("counts").state != ProjectionState::kRebuilding);
}

TEST_CASE("a family of a non-active generation left at open is dropped, the active one kept") {
  TempDir dir;
  Harness h(dir.path());
  auto hooks = std::make_shared<Hooks>();
  auto specs = AllSpecs(std::make_shared<Hooks>());  // for replays
  h.OpenEngine(AllSpecs(hooks), NoThreads());
  Populate(*h.log, 0, 30);
  h.MustCatchUp();
  const Tables before = h.DumpOf(specs[0]);
  h.Close();

  // What an interrupted rebuild (or check) of generation 5 would leave behind, with data.
  h.OpenLog();
  for (const char* name : {"rm.counts.5.by_type", "rm.counts.5.seen", "rm.latest.7.latest"}) {
    auto family = h.store->OpenFamily(name, FamilyKind::kOrdered);
    REQUIRE(family.ok());
    WriteBatch batch;
    batch.Put(*family, "junk", "junk");
    REQUIRE(h.store->Write(batch, false).ok());
  }
  // A family of another projection is none of this one's business.
  REQUIRE(h.store->OpenFamily("rm.counts_other.5.t", FamilyKind::kOrdered).ok());
  h.OpenEngine(AllSpecs(hooks), NoThreads());

  CHECK(FamiliesOf(*h.store, "counts") == FamiliesOfGeneration(specs[0], 1));
  CHECK(FamiliesOf(*h.store, "latest") == FamiliesOfGeneration(specs[1], 1));
  CHECK(h.store->FindFamily("rm.counts_other.5.t") != nullptr);
  CHECK(h.StatusOf("counts").generation == 1);
  CHECK(DiffTables(before, h.DumpOf(specs[0])).empty());

  // The next generation does not reuse the dropped number's data.
  auto job = h.engine->StartRebuild({"counts"});
  REQUIRE(job.ok());
  auto done = h.engine->WaitForRebuild(*job);
  REQUIRE(done.ok());
  CHECK(done->state == RebuildProgress::State::kDone);
  CHECK(h.StatusOf("counts").generation > 1);
  CHECK(DiffTables(before, h.DumpOf(specs[0])).empty());
}

TEST_CASE("Stop is idempotent and leaves the projections stopped") {
  TempDir dir;
  Harness h(dir.path());
  h.OpenEngine(AllSpecs(std::make_shared<Hooks>()), WithThreads());
  Populate(*h.log, 0, 10);
  RequireWait(*h.engine, "counts", h.log->LastSeq());
  h.engine->Stop();
  h.engine->Stop();
  for (const ProjectionStatus& s : h.engine->Statuses()) CHECK(s.state == ProjectionState::kStopped);
  CHECK(h.engine->WaitForSeq("counts", Seq(10), 10ms).ok());
  CHECK(h.engine->StartRebuild({}).status().code() == ErrorCode::kShuttingDown);
}

}  // namespace
}  // namespace cairn
