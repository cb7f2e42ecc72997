// The `cairn` binary: parses the command line (CLI11) and runs one subcommand.
#include <cstdio>
#include <iostream>

#include "cli/commands.h"

namespace cairn::cli {

int Fail(std::string_view command, const Status& status) {
  return Fail(command, status.field().empty() ? status.message()
                                              : status.message() + " (" + status.field() + ")");
}

int Fail(std::string_view command, std::string_view message) {
  std::cerr << "cairn " << command << ": " << message << "\n";
  return kExitError;
}

}  // namespace cairn::cli

int main(int argc, char** argv) {
  using namespace cairn::cli;
  CLI::App app{
      "Cairn: an event store and CQRS engine in one binary.\n"
      "Run `cairn <command> --help` for a command's flags and examples.",
      "cairn"};
  app.require_subcommand(1);
  CommandRunner run;
  AddServeCommand(app, &run);
  AddRebuildCommand(app, &run);
  AddCheckCommand(app, &run);
  AddExportCommand(app, &run);
  AddImportCommand(app, &run);
  AddBackupCommand(app, &run);
  AddRestoreCommand(app, &run);
  AddVersionCommand(app, &run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "cairn: " << e.what() << "\nRun `cairn --help` for usage.\n";
    return kExitError;
  }
  return run ? run() : kExitError;
}
