// WorkState: the work folder OUT/.anec-work that makes --restart and --only safe.
//
// It holds options.json (the options fingerprint) and one marker file step<N>.done per finished
// step, each written atomically after the step's outputs are in place. A killed run therefore
// leaves markers only for steps whose outputs are complete. Running step N removes the markers
// of N and every later step first (their outputs are about to be rebuilt or made stale).
#pragma once

#include <string>
#include <vector>

#include "base/file_system.h"
#include "base/status.h"

namespace anec::pipeline {

class WorkState {
 public:
  WorkState(FileSystem* fs, std::string output_dir);

  const std::string& dir() const { return dir_; }
  std::string Path(const std::string& name) const;

  // A clean run: records `fingerprint`, drops every old marker.
  Status Start(const std::string& fingerprint);
  // A resumed run: the recorded fingerprint must equal `fingerprint` (else FailedPrecondition
  // naming the folder and telling to run without --restart/--only).
  Status Resume(const std::string& fingerprint);

  bool IsDone(int step) const;
  Status MarkDone(int step);
  // Removes the markers of `step` and all later steps.
  Status Invalidate(int step);

 private:
  FileSystem* fs_;
  std::string dir_;
};

}  // namespace anec::pipeline
