#ifndef CONVEYOR_SERVER_METRICS_OPS_SERVER_H_
#define CONVEYOR_SERVER_METRICS_OPS_SERVER_H_

#include <prometheus/collectable.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace httplib {
class Server;
}

namespace conveyor::metrics {

// The coordinator's HTTP port for operators: GET /metrics (Prometheus text
// format, from `collectables`), /healthz (200 while the process serves) and
// /readyz (200 when `ready` returns OK, else 503 with its message). Two
// serving threads. Thread-safe.
class OpsServer {
 public:
  // Listens on `listen` ("host:port"; port 0 picks one).
  static absl::StatusOr<std::unique_ptr<OpsServer>> Start(
      const std::string& listen, std::vector<const prometheus::Collectable*> collectables,
      std::function<absl::Status()> ready);
  // Stops serving and joins the thread.
  ~OpsServer();

  int port() const { return port_; }

 private:
  OpsServer() = default;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace conveyor::metrics

#endif  // CONVEYOR_SERVER_METRICS_OPS_SERVER_H_
