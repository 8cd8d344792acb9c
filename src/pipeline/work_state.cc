#include "pipeline/work_state.h"

#include "pipeline/convert_options.h"

namespace anec::pipeline {

namespace {
std::string MarkerName(int step) { return "step" + std::to_string(step) + ".done"; }
}  // namespace

WorkState::WorkState(FileSystem* fs, std::string output_dir)
    : fs_(fs), dir_(JoinPath(output_dir, ".anec-work")) {}

std::string WorkState::Path(const std::string& name) const { return JoinPath(dir_, name); }

Status WorkState::Start(const std::string& fingerprint) {
  ANEC_RETURN_IF_ERROR(fs_->MakeDirs(dir_));
  ANEC_RETURN_IF_ERROR(Invalidate(1));
  return fs_->WriteFileAtomic(Path("options.json"), fingerprint);
}

Status WorkState::Resume(const std::string& fingerprint) {
  const std::string path = Path("options.json");
  if (!fs_->Exists(path)) {
    return FailedPrecondition(
        "{} not found: there is no earlier run to resume in this output folder; run without "
        "--restart/--only",
        path);
  }
  ANEC_ASSIGN_OR_RETURN(std::string old, fs_->ReadFile(path));
  if (old != fingerprint) {
    return FailedPrecondition(
        "{}: the earlier run in this folder used different options or a different model; "
        "--restart/--only would mix outputs. Run without --restart (a clean run), or repeat the "
        "original options. Recorded options:\n{}",
        path, old);
  }
  return Status::Ok();
}

bool WorkState::IsDone(int step) const { return fs_->Exists(Path(MarkerName(step))); }

Status WorkState::MarkDone(int step) {
  return fs_->WriteFileAtomic(Path(MarkerName(step)), "ok\n");
}

Status WorkState::Invalidate(int step) {
  for (int s = step; s <= kNumSteps; ++s) {
    const std::string p = Path(MarkerName(s));
    if (fs_->Exists(p)) ANEC_RETURN_IF_ERROR(fs_->RemoveAll(p));
  }
  return Status::Ok();
}

}  // namespace anec::pipeline
