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

#include <spdlog/spdlog.h>

#include "cairn/db.h"

namespace {

int Die(const std::string& message) {
  std::cerr << "cli_test_tool: " << message << "\n";
  return 2;
}

// Opens an existing data dir as the offline commands do: no projection threads, nothing created,
// and the library's info lines kept off stdout, which the test reads.
cairn::Result<std::unique_ptr<cairn::Db>> Open(const std::string& dir) {
  spdlog::set_level(spdlog::level::warn);
  cairn::DbOptions options;
  options.store.create_if_missing = false;
  options.engine.start_threads = false;
  options.create_owned_topics = false;
  return cairn::Db::Open(dir, options);
}

// The live generation's family of `table`.
cairn::Result<cairn::Family*> TableFamily(cairn::Db& db, const std::string& projection,
                                          const std::string& table) {
  CAIRN_ASSIGN_OR_RETURN(const cairn::ProjectionStatus status, db.engine().GetStatus(projection));
  const std::string name =
      "rm." + projection + "." + std::to_string(status.generation) + "." + table;
  cairn::Family* family = db.store().FindFamily(name);
  if (!family) return cairn::Status::NotFound("no family " + name);
  return family;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return Die("usage: cli_test_tool put|delete|keys|hold DIR ...");
  const std::string command = argv[1];
  const std::string dir = argv[2];
  auto db = Open(dir);
  if (!db.ok()) return Die(db.status().ToString());
  if (command == "hold") {
    std::cout << "held" << std::endl;
    std::string ignored;
    while (std::getline(std::cin, ignored)) {
    }
    return 0;
  }
  if (argc < 5) return Die("missing PROJECTION TABLE");
  auto family = TableFamily(**db, argv[3], argv[4]);
  if (!family.ok()) return Die(family.status().ToString());
  if (command == "keys") {
    cairn::Status s = (*db)->store().Scan(*family, "", "", [](std::string_view key, std::string_view) {
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
  cairn::Status s = (*db)->store().Write(batch, /*durable=*/true);
  return s.ok() ? 0 : Die(s.ToString());
}
