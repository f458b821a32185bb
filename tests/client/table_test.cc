#include "client/cli/table.h"

#include <gtest/gtest.h>

namespace conveyor::cli {
namespace {

TEST(TableTest, AlignsColumnsWithoutTrailingSpaces) {
  Table t({"ID", "STATE", "ERROR"});
  t.AddRow({"7", "queued", ""});
  t.AddRow({"1234", "dead", "boom"});
  EXPECT_EQ(t.rows(), 2u);
  EXPECT_EQ(t.Render(),
            "ID    STATE   ERROR\n"
            "7     queued\n"
            "1234  dead    boom\n");
}

TEST(TableTest, ShortAndLongRows) {
  Table t({"A", "B"});
  t.AddRow({"x"});
  t.AddRow({"1", "2", "3"});
  EXPECT_EQ(t.Render(),
            "A  B\n"
            "x\n"
            "1  2  3\n");
}

TEST(TableTest, HeaderOnly) { EXPECT_EQ(Table({"QUEUE", "DEAD"}).Render(), "QUEUE  DEAD\n"); }

}  // namespace
}  // namespace conveyor::cli
