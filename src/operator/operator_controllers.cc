#include "operator/operator_controllers.h"

namespace gpuop::op {

OperatorControllers::OperatorControllers(kube::RestClient& client, kube::EventRecorder& recorder,
                                         common::Logger& log, OperatorOptions options) {
  if (options.deploy_operands) {
    options.labels.operand_facts = [this] { return operands_->Facts(); };
    options.operands.on_facts_changed = [this] { labels_->RefreshStatus(); };
    operands_ = std::make_unique<OperandController>(client, log, std::move(options.operands));
  }
  labels_ = std::make_unique<NodeLabelController>(client, recorder, log, std::move(options.labels));
}

OperatorControllers::~OperatorControllers() { Stop(); }

bool OperatorControllers::Start(std::chrono::milliseconds sync_timeout) {
  if (!labels_->Start(sync_timeout)) return false;
  if (operands_ && !operands_->Start(sync_timeout)) {
    labels_->Stop();
    return false;
  }
  return true;
}

void OperatorControllers::Stop() {
  // Operands first: their worker calls into the labels controller.
  if (operands_) operands_->Stop();
  labels_->Stop();
}

}  // namespace gpuop::op
