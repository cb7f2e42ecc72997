// A helper for the CLI's end-to-end tests (tests/cli/cli_test.py), doing what no cairn command
// may: damaging a read model behind the engine's back, and holding a data dir open as a running
// server would.
//
//   cli_test_tool put DIR PROJECTION TABLE KEY VALUE  # write into the live generation's table
//   cli_test_tool delete DIR PROJECTION TABLE KEY
//   cli_test_tool keys DIR PROJECTION TABLE           # print the table's keys, one a line
//   cli_test_tool hold DIR                            # open DIR, print "held", wait for EOF on stdin
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "cairn/engine.h"
#include "cairn/log.h"
#include "cairn/orders.h"
#include "cairn/store.h"

namespace {

int Die(const std::string& message) {
  std::cerr << "cli_test_tool: " << message << "\n";
  return 2;
}

struct Opened {
  std::unique_ptr<cairn::Store> store;
  std::unique_ptr<cairn::Log> log;
  std::unique_ptr<cairn::Engine> engine;
  ~Opened() {
    if (engine) engine->Stop();
    engine.reset();
    if (log) log->Close();
  }
};

cairn::Status Open(const std::string& dir, bool with_engine, Opened* out) {
  cairn::StoreOptions options;
  options.create_if_missing = false;
  auto store = cairn::Store::Open(dir, options);
  if (!store.ok()) return store.status();
  out->store = std::move(*store);
  if (!with_engine) return cairn::Status::Ok();
  auto log = cairn::Log::Open(out->store.get(), cairn::LogOptions{});
  if (!log.ok()) return log.status();
  out->log = std::move(*log);
  cairn::EngineOptions engine_options;
  engine_options.start_threads = false;
  auto engine = cairn::Engine::Open(out->log.get(), cairn::OrderProjections(), engine_options);
  if (!engine.ok()) return engine.status();
  out->engine = std::move(*engine);
  return cairn::Status::Ok();
}

// The live generation's family of `table`.
cairn::Result<cairn::Family*> TableFamily(Opened& db, const std::string& projection,
                                          const std::string& table) {
  auto status = db.engine->GetStatus(projection);
  if (!status.ok()) return status.status();
  const std::string name =
      "rm." + projection + "." + std::to_string(status->generation) + "." + table;
  cairn::Family* family = db.store->FindFamily(name);
  if (!family) return cairn::Status::NotFound("no family " + name);
  return family;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return Die("usage: cli_test_tool put|delete|keys|hold DIR ...");
  const std::string command = argv[1];
  const std::string dir = argv[2];
  Opened db;
  cairn::Status opened = Open(dir, command != "hold", &db);
  if (!opened.ok()) return Die(opened.ToString());
  if (command == "hold") {
    std::cout << "held" << std::endl;
    std::string ignored;
    while (std::getline(std::cin, ignored)) {
    }
    return 0;
  }
  if (argc < 5) return Die("missing PROJECTION TABLE");
  auto family = TableFamily(db, argv[3], argv[4]);
  if (!family.ok()) return Die(family.status().ToString());
  if (command == "keys") {
    cairn::Status s = db.store->Scan(*family, "", "", [](std::string_view key, std::string_view) {
      std::cout << key << "\n";
      return true;
    });
    return s.ok() ? 0 : Die(s.ToString());
  }
  cairn::WriteBatch batch;
  if (command == "put" && argc == 7) {
    batch.Put(*family, argv[5], argv[6]);
  } else if (command == "delete" && argc == 6) {
    batch.Delete(*family, argv[5]);
  } else {
    return Die("usage: cli_test_tool put DIR PROJECTION TABLE KEY VALUE | delete DIR PROJECTION TABLE KEY");
  }
  cairn::Status s = db.store->Write(batch, /*durable=*/true);
  return s.ok() ? 0 : Die(s.ToString());
}
