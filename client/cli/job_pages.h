#ifndef CONVEYOR_CLIENT_CLI_JOB_PAGES_H_
#define CONVEYOR_CLIENT_CLI_JOB_PAGES_H_

#include <algorithm>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "conveyor/v1/job.pb.h"

namespace conveyor::cli {

struct JobPages {
  std::vector<v1::Job> jobs;
  bool more = false;  // The listing went on past `limit`.
};

// Pages through a job listing (ListJobs, ListDeadJobs): sends `request` with
// page_size and page_token set, through `fetch` (Request -> StatusOr of a
// response with `jobs` and `next_page_token`), until `limit` jobs (0: all)
// or the last page. The first failed page's status is returned.
template <typename Request, typename Fetch>
absl::StatusOr<JobPages> FetchJobPages(Request request, int limit, Fetch fetch) {
  const size_t most = limit <= 0 ? SIZE_MAX : static_cast<size_t>(limit);
  JobPages out;
  while (out.jobs.size() < most) {
    request.set_page_size(static_cast<int>(std::min<size_t>(1000, most - out.jobs.size())));
    auto page = fetch(request);
    if (!page.ok()) return page.status();
    for (v1::Job& job : *page->mutable_jobs()) {
      if (out.jobs.size() < most) out.jobs.push_back(std::move(job));
    }
    out.more = !page->next_page_token().empty();
    if (!out.more) break;
    request.set_page_token(page->next_page_token());
  }
  return out;
}

}  // namespace conveyor::cli

#endif  // CONVEYOR_CLIENT_CLI_JOB_PAGES_H_
