#include "server/metrics/ops_server.h"

#include <httplib.h>
#include <prometheus/text_serializer.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace conveyor::metrics {

absl::StatusOr<std::unique_ptr<OpsServer>> OpsServer::Start(
    const std::string& listen, std::vector<const prometheus::Collectable*> collectables,
    std::function<absl::Status()> ready) {
  const size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-listen \"", listen, "\": expected host:port"));
  }
  const std::string host = listen.substr(0, colon);
  std::unique_ptr<OpsServer> ops(new OpsServer());
  ops->server_ = std::make_unique<httplib::Server>();
  httplib::Server& server = *ops->server_;
  server.new_task_queue = [] { return new httplib::ThreadPool(2); };
  server.Get("/metrics", [collectables](const httplib::Request&, httplib::Response& res) {
    std::vector<prometheus::MetricFamily> families;
    for (const auto* c : collectables) {
      auto more = c->Collect();
      families.insert(families.end(), more.begin(), more.end());
    }
    res.set_content(prometheus::TextSerializer().Serialize(families),
                    "text/plain; version=0.0.4");
  });
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  server.Get("/readyz", [ready](const httplib::Request&, httplib::Response& res) {
    absl::Status s = ready();
    res.status = s.ok() ? 200 : 503;
    res.set_content(s.ok() ? "ready\n" : std::string(s.message()) + "\n", "text/plain");
  });
  int bound = port;
  if (port == 0) {
    bound = server.bind_to_any_port(host);
  } else if (!server.bind_to_port(host, port)) {
    bound = -1;
  }
  if (bound <= 0) {
    return absl::UnavailableError(
        absl::StrCat("--metrics-listen ", listen, ": cannot listen there (in use?)"));
  }
  ops->port_ = bound;
  ops->thread_ = std::thread([&server] { server.listen_after_bind(); });
  return ops;
}

OpsServer::~OpsServer() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace conveyor::metrics
