// Shards of a batch: parsing "i/n", covering every job exactly once, and the shard a scheduler
// (SLURM job array or Kubernetes indexed Job) gives through the environment.
#include <gtest/gtest.h>

#include "../app/app_test_support.hpp"

#include <map>
#include <string>

#include "vsp/config/batch.hpp"
#include "vsp/error.hpp"

namespace vsp::app {
namespace {

using testing::contains;
using testing::error_of;

// A getenv that reads from a map, so no test depends on (or changes) the real environment.
struct FakeEnvironment {
  std::map<std::string, std::string> values;
  std::optional<Shard> shard() const {
    return shard_from_environment([this](const char* name) -> const char* {
      const auto found = values.find(name);
      return found == values.end() ? nullptr : found->second.c_str();
    });
  }
};

TEST(ParseShard, ValidShards) {
  const Shard first = parse_shard("0/1");
  EXPECT_EQ(first.index, 0);
  EXPECT_EQ(first.count, 1);
  const Shard last = parse_shard("3/4");
  EXPECT_EQ(last.index, 3);
  EXPECT_EQ(last.count, 4);
  EXPECT_EQ(last.label(), "3/4");
  const Shard big = parse_shard("12/100");
  EXPECT_EQ(big.index, 12);
  EXPECT_EQ(big.count, 100);
}

TEST(ParseShard, InvalidShardsThrow) {
  for (const std::string text : {"4/4", "5/4", "1/0", "0/0", "a/2", "1/b", "1", "-1/2", "1/-2", "", "/", "1/", "/2",
                                 " 1/2", "1/2 ", "1/2/3", "1.0/2"}) {
    EXPECT_THROW(parse_shard(text), Error) << "\"" << text << "\"";
  }
}

TEST(ParseShard, MessagesSayWhatIsWrong) {
  EXPECT_TRUE(contains(error_of([] { parse_shard("1"); }), "INDEX/COUNT"));
  EXPECT_TRUE(contains(error_of([] { parse_shard("a/2"); }), "\"a\""));
  const std::string too_big = error_of([] { parse_shard("4/4"); });
  EXPECT_TRUE(contains(too_big, "below the count")) << too_big;
  EXPECT_TRUE(contains(too_big, "indices run from 0 to 3")) << too_big;
  const std::string no_count = error_of([] { parse_shard("0/0"); });
  EXPECT_TRUE(contains(no_count, "count must be at least 1")) << no_count;
}

TEST(Shard, EveryJobIsInExactlyOneShard) {
  for (int count = 1; count <= 5; ++count) {
    for (size_t job = 0; job <= 20; ++job) {
      int shards = 0, owner = -1;
      for (int index = 0; index < count; ++index) {
        if (Shard{index, count}.contains(job)) {
          ++shards;
          owner = index;
        }
      }
      EXPECT_EQ(shards, 1) << "job " << job << " of " << count << " shards";
      EXPECT_EQ(owner, static_cast<int>(job % count)) << "job " << job << " of " << count << " shards";
    }
  }
}

TEST(Shard, DefaultShardTakesEverything) {
  const Shard all;
  for (size_t job = 0; job < 10; ++job) EXPECT_TRUE(all.contains(job));
  EXPECT_EQ(all.label(), "0/1");
}

TEST(ShardFromEnvironment, NothingSetIsNoShard) {
  EXPECT_FALSE(FakeEnvironment{}.shard().has_value());
  // Unrelated or empty variables do not make a shard either.
  EXPECT_FALSE((FakeEnvironment{{{"SLURM_ARRAY_TASK_ID", ""}, {"VSP_SHARD_COUNT", "3"}}}.shard().has_value()));
  EXPECT_FALSE((FakeEnvironment{{{"SLURM_ARRAY_TASK_COUNT", "3"}}}.shard().has_value()));
}

TEST(ShardFromEnvironment, SlurmArrayCountsFromItsFirstTask) {
  const auto shard =
      FakeEnvironment{{{"SLURM_ARRAY_TASK_ID", "5"}, {"SLURM_ARRAY_TASK_MIN", "4"}, {"SLURM_ARRAY_TASK_COUNT", "3"}}}
          .shard();
  ASSERT_TRUE(shard.has_value());
  EXPECT_EQ(shard->index, 1);
  EXPECT_EQ(shard->count, 3);
}

TEST(ShardFromEnvironment, SlurmArrayWithAStepNumbersItsTasksInOrder) {
  // --array=0-6:2 runs tasks 0, 2, 4, 6: shards 0..3 of 4.
  for (int task = 0; task <= 6; task += 2) {
    const auto shard = FakeEnvironment{
        {{"SLURM_ARRAY_TASK_ID", std::to_string(task)},
         {"SLURM_ARRAY_TASK_MIN", "0"},
         {"SLURM_ARRAY_TASK_STEP", "2"},
         {"SLURM_ARRAY_TASK_COUNT",
          "4"}}}.shard();
    ASSERT_TRUE(shard.has_value());
    EXPECT_EQ(shard->index, task / 2);
    EXPECT_EQ(shard->count, 4);
  }
  EXPECT_THROW(
      (FakeEnvironment{{{"SLURM_ARRAY_TASK_ID", "3"}, {"SLURM_ARRAY_TASK_STEP", "2"}, {"SLURM_ARRAY_TASK_COUNT", "4"}}}
           .shard()),
      Error);
}

TEST(ShardFromEnvironment, SlurmWithoutMinimumStartsAtZero) {
  const auto shard = FakeEnvironment{{{"SLURM_ARRAY_TASK_ID", "2"}, {"SLURM_ARRAY_TASK_COUNT", "4"}}}.shard();
  ASSERT_TRUE(shard.has_value());
  EXPECT_EQ(shard->index, 2);
  EXPECT_EQ(shard->count, 4);
}

TEST(ShardFromEnvironment, SlurmWithoutCountThrows) {
  const std::string message = error_of([] {
    FakeEnvironment{{{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_MIN", "0"}}}.shard();
  });
  EXPECT_TRUE(contains(message, "SLURM_ARRAY_TASK_COUNT")) << message;
  EXPECT_TRUE(contains(message, "--shard")) << message;
}

TEST(ShardFromEnvironment, SlurmInconsistentValuesThrow) {
  // The task id past the count, below the first task, or not a number.
  EXPECT_THROW((FakeEnvironment{{{"SLURM_ARRAY_TASK_ID", "3"}, {"SLURM_ARRAY_TASK_COUNT", "3"}}}.shard()), Error);
  EXPECT_THROW(
      (FakeEnvironment{{{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_MIN", "2"}, {"SLURM_ARRAY_TASK_COUNT", "3"}}}
           .shard()),
      Error);
  const std::string message = error_of([] {
    FakeEnvironment{{{"SLURM_ARRAY_TASK_ID", "x"}, {"SLURM_ARRAY_TASK_COUNT", "3"}}}.shard();
  });
  EXPECT_TRUE(contains(message, "SLURM_ARRAY_TASK_ID")) << message;
}

TEST(ShardFromEnvironment, KubernetesIndexedJob) {
  const auto shard = FakeEnvironment{{{"JOB_COMPLETION_INDEX", "2"}, {"VSP_SHARD_COUNT", "3"}}}.shard();
  ASSERT_TRUE(shard.has_value());
  EXPECT_EQ(shard->index, 2);
  EXPECT_EQ(shard->count, 3);
}

TEST(ShardFromEnvironment, KubernetesWithoutCountThrows) {
  const std::string message = error_of([] { FakeEnvironment{{{"JOB_COMPLETION_INDEX", "0"}}}.shard(); });
  EXPECT_TRUE(contains(message, "VSP_SHARD_COUNT")) << message;
}

TEST(ShardFromEnvironment, IndexAtOrPastCountThrows) {
  EXPECT_THROW((FakeEnvironment{{{"JOB_COMPLETION_INDEX", "3"}, {"VSP_SHARD_COUNT", "3"}}}.shard()), Error);
  EXPECT_THROW((FakeEnvironment{{{"JOB_COMPLETION_INDEX", "7"}, {"VSP_SHARD_COUNT", "3"}}}.shard()), Error);
  EXPECT_THROW((FakeEnvironment{{{"JOB_COMPLETION_INDEX", "0"}, {"VSP_SHARD_COUNT", "0"}}}.shard()), Error);
  EXPECT_THROW(
      (FakeEnvironment{{{"SLURM_ARRAY_TASK_ID", "9"}, {"SLURM_ARRAY_TASK_MIN", "4"}, {"SLURM_ARRAY_TASK_COUNT", "3"}}}
           .shard()),
      Error);
}

TEST(ShardFromEnvironment, SlurmTakesPrecedenceOverKubernetes) {
  const auto shard = FakeEnvironment{
      {{"SLURM_ARRAY_TASK_ID", "1"},
       {"SLURM_ARRAY_TASK_COUNT", "2"},
       {"JOB_COMPLETION_INDEX", "0"},
       {"VSP_SHARD_COUNT",
        "5"}}}.shard();
  ASSERT_TRUE(shard.has_value());
  EXPECT_EQ(shard->label(), "1/2");
}

}  // namespace
}  // namespace vsp::app
