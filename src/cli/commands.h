// The `cairn` binary's subcommands. Each Add*Command registers its subcommand (flags, help,
// examples) on the app; when that subcommand is chosen, *run is set to the function that does
// the work and returns the process exit code (see ExitCode).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

#include "cairn/status.h"

namespace cairn::cli {

// Exit codes of every subcommand.
enum ExitCode : int {
  kExitOk = 0,     // done; for `check`: consistent
  kExitDrift = 1,  // `check` found read models that differ from a replay
  kExitError = 2,  // bad usage, bad input, or the operation failed
};

using CommandRunner = std::function<int()>;

void AddServeCommand(CLI::App& app, CommandRunner* run);
void AddRebuildCommand(CLI::App& app, CommandRunner* run);
void AddCheckCommand(CLI::App& app, CommandRunner* run);
void AddExportCommand(CLI::App& app, CommandRunner* run);
void AddImportCommand(CLI::App& app, CommandRunner* run);
void AddBackupCommand(CLI::App& app, CommandRunner* run);
void AddRestoreCommand(CLI::App& app, CommandRunner* run);
void AddVersionCommand(CLI::App& app, CommandRunner* run);

// Prints "cairn <command>: <message>" on stderr and returns kExitError: the one way commands
// report a failure.
int Fail(std::string_view command, const Status& status);
int Fail(std::string_view command, std::string_view message);

}  // namespace cairn::cli
