// `cairn version` (and `cairn --version`): the version of this binary and of the libraries it
// was built with, so a bug report says what ran.
#include <cstdio>
#include <cstdlib>

#include "cli/commands.h"

#ifndef CAIRN_VERSION
#define CAIRN_VERSION "unknown"
#endif
#ifndef CAIRN_BUILD_INFO
#define CAIRN_BUILD_INFO ""
#endif

namespace cairn::cli {

void AddVersionCommand(CLI::App& app, CommandRunner* run) {
  // Not CLI11's set_version_flag: its CallForVersion exception would reach main()'s ParseError
  // handler (exit 2). The flag's callback runs while parsing, before any subcommand opens
  // anything, so exiting there is clean.
  app.add_flag_callback(
      "--version",
      [] {
        std::printf("cairn %s\n", CAIRN_VERSION);
        std::fflush(stdout);
        std::exit(kExitOk);
      },
      "Print the version and exit");
  CLI::App* cmd = app.add_subcommand("version", "Print the version of cairn and its libraries");
  cmd->footer(
      "Examples:\n"
      "  cairn version\n"
      "  cairn --version\n");
  cmd->callback([run] {
    *run = [] {
      std::printf("cairn %s\n", CAIRN_VERSION);
      if (CAIRN_BUILD_INFO[0] != '\0') std::printf("%s\n", CAIRN_BUILD_INFO);
      return std::fflush(stdout) == 0 ? kExitOk : kExitError;
    };
  });
}

}  // namespace cairn::cli
