// File: operator_wiring.h
// ops::OperatorPorts over a Wiring: what `status`, `dlq`, `park` and the console reach, opened
// on first use. Owns its Wiring when given a Config (the console: its own connections, apart
// from the stages of its process), or borrows one (a command's).
#pragma once

#include <memory>

#include "cli/wiring.h"
#include "ops/operator_ports.h"

namespace memberflow::cli {

class WiringOperatorPorts final : public ops::OperatorPorts {
 public:
  explicit WiringOperatorPorts(Wiring& w) : w_(w) {}
  explicit WiringOperatorPorts(const Config& cfg)
      : owned_(std::make_unique<Wiring>(cfg)), w_(*owned_) {}
  // `createParking`: whether the parking store may be created (not from the API's role).
  void setCreateParking(bool create) { createParking_ = create; }

  Clock& clock() override { return w_.clock(); }
  std::string topic() const override { return w_.config().topic; }
  Result<ChangeSource*> source() override;
  Result<SourceReader*> reader() override;
  Result<MemberStore*> members() override;
  Result<ParkingStore*> parking() override;
  Result<Ledger*> ledger() override;
  Result<ObjectStore*> objects() override;
  Result<DeliveryLog*> deliveries() override;
  Result<LakeJournal*> lakeJournal() override;
  Result<const RoutingConfig*> routing() override;
  Result<std::vector<Queue*>> allQueues() override;
  Result<std::vector<std::string>> dlqNames() override;
  Result<Queue*> dlq(const std::string& name) override;
  Result<Queue*> changes() override;
  Result<Queue*> queueOf(Queue& dlq) override;
  Result<IngestStage*> ingest() override;

 private:
  std::unique_ptr<Wiring> owned_;
  Wiring& w_;
  bool createParking_ = true;
  std::unique_ptr<IngestStage> ingest_;
};

}  // namespace memberflow::cli
