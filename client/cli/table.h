#ifndef CONVEYOR_CLIENT_CLI_TABLE_H_
#define CONVEYOR_CLIENT_CLI_TABLE_H_

#include <string>
#include <vector>

namespace conveyor::cli {

// A text table: a header row and data rows, columns left-aligned and
// separated by two spaces, no trailing spaces. Widths count bytes (payloads
// are escaped to ASCII before they get here). Not thread-safe.
class Table {
 public:
  explicit Table(std::vector<std::string> header);
  // Rows shorter than the header are padded with empty cells; extra cells
  // get a column with an empty heading.
  void AddRow(std::vector<std::string> row);
  size_t rows() const { return rows_.size() - 1; }
  // Every row, header first, each ending in '\n'.
  std::string Render() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace conveyor::cli

#endif  // CONVEYOR_CLIENT_CLI_TABLE_H_
