#include "bench/report.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace conveyor::bench {
namespace {

std::string FormatValue(double value) {
  if (std::isnan(value)) return "n/a";
  if (std::isinf(value)) return "inf";
  if (std::fabs(value) >= 1000 || value == std::floor(value)) {
    // Thousands separators for counts and rates.
    std::string digits = absl::StrFormat("%.0f", std::fabs(value));
    std::string out;
    for (size_t i = 0; i < digits.size(); ++i) {
      if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
      out += digits[i];
    }
    return value < 0 ? "-" + out : out;
  }
  if (std::fabs(value) >= 10) return absl::StrFormat("%.1f", value);
  return absl::StrFormat("%.3f", value);
}

std::string FormatTarget(const Target& t) {
  return absl::StrCat(t.op == Target::Op::kAtLeast ? ">= " : "<= ", FormatValue(t.bound));
}

std::string JsonNumber(double value) {
  if (!std::isfinite(value)) return "null";
  return absl::StrFormat("%.6g", value);
}

}  // namespace

std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

void Report::Add(std::string scenario, std::string metric, double value, std::string unit,
                 std::optional<Target> target) {
  absl::MutexLock lock(&mu_);
  rows_.push_back({std::move(scenario), std::move(metric), value, std::move(unit), target});
}

void Report::Note(std::string text) {
  absl::MutexLock lock(&mu_);
  notes_.push_back(std::move(text));
}

void Report::Fail(std::string text) {
  absl::MutexLock lock(&mu_);
  failures_.push_back(std::move(text));
}

bool Report::failed() const {
  absl::MutexLock lock(&mu_);
  return !failures_.empty();
}

std::string Report::Table() const {
  absl::MutexLock lock(&mu_);
  const std::vector<std::string> header = {"scenario", "metric", "value", "unit", "target", ""};
  std::vector<std::vector<std::string>> cells;
  for (const Row& r : rows_) {
    cells.push_back({r.scenario, r.metric, FormatValue(r.value), r.unit,
                     r.target ? FormatTarget(*r.target) : "",
                     r.target ? (r.target->Met(r.value) ? "ok" : "MISSED") : ""});
  }
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) {
    width[c] = header[c].size();
    for (const auto& row : cells) width[c] = std::max(width[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string>& row) {
    std::string out;
    for (size_t c = 0; c < row.size(); ++c) {
      const bool right = c == 2 || c == 4;
      const std::string pad(width[c] - row[c].size(), ' ');
      out += right ? pad + row[c] : row[c] + pad;
      out += c + 1 < row.size() ? "  " : "";
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(header);
  size_t total = 0;
  for (size_t w : width) total += w + 2;
  out += std::string(total - 2, '-') + "\n";
  for (const auto& row : cells) out += line(row);
  for (const auto& note : notes_) out += "note: " + note + "\n";
  for (const auto& failure : failures_) out += "FAILED: " + failure + "\n";
  return out;
}

std::string Report::Json(const std::string& config_json) const {
  absl::MutexLock lock(&mu_);
  std::string out = absl::StrCat("{\n  \"config\": ", config_json, ",\n  \"results\": [");
  for (size_t i = 0; i < rows_.size(); ++i) {
    const Row& r = rows_[i];
    absl::StrAppend(&out, i == 0 ? "\n" : ",\n", "    {\"scenario\": ", JsonString(r.scenario),
                    ", \"metric\": ", JsonString(r.metric), ", \"value\": ", JsonNumber(r.value),
                    ", \"unit\": ", JsonString(r.unit));
    if (r.target) {
      absl::StrAppend(&out, ", \"target\": {\"op\": ",
                      JsonString(r.target->op == Target::Op::kAtLeast ? ">=" : "<="),
                      ", \"bound\": ", JsonNumber(r.target->bound),
                      "}, \"met\": ", r.target->Met(r.value) ? "true" : "false");
    }
    out += "}";
  }
  out += "\n  ],\n  \"notes\": [";
  for (size_t i = 0; i < notes_.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ", ", JsonString(notes_[i]));
  }
  out += "],\n  \"failures\": [";
  for (size_t i = 0; i < failures_.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ", ", JsonString(failures_[i]));
  }
  out += "]\n}\n";
  return out;
}

}  // namespace conveyor::bench
