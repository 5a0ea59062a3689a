// util/ordered_worker.h: items run in push order on the worker thread, waits see what
// the items wrote, the first exception stops the worker and every later wait rethrows
// it, and destruction with items pending neither hangs nor runs them all.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <stdexcept>
#include <thread>
#include <vector>

#include "util/ordered_worker.h"

namespace plait {
namespace {

TEST(OrderedWorker, RunsItemsInPushOrder) {
  std::vector<int> seen;  // written by the worker only; read after wait_all
  std::thread::id worker;
  OrderedWorker<int> w([&](const int& i) {
    seen.push_back(i);
    worker = std::this_thread::get_id();
  });
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 50; ++i) w.push(round * 100 + i);
    w.wait_all();
    w.clear();
  }
  ASSERT_EQ(seen.size(), 150u);
  for (int round = 0; round < 3; ++round)
    for (int i = 0; i < 50; ++i) EXPECT_EQ(seen[round * 50 + i], round * 100 + i);
  EXPECT_NE(worker, std::this_thread::get_id());
}

TEST(OrderedWorker, PopDoneReturnsTheOldestOnceItRan) {
  std::vector<int> ran;
  OrderedWorker<int> w([&](const int& i) { ran.push_back(i); });
  w.push(7);
  w.push(8);
  EXPECT_EQ(w.pop_done(), 7);
  w.push(9);
  EXPECT_EQ(w.pop_done(), 8);
  EXPECT_EQ(w.pop_done(), 9);
  EXPECT_EQ(ran, (std::vector<int>{7, 8, 9}));
}

TEST(OrderedWorker, WaitAllWithNothingPushedReturns) {
  OrderedWorker<int> w([](const int&) {});
  w.wait_all();
  w.clear();
  w.wait_all();
}

// A push does not wait for the running item: the item blocks until the owner, after
// its push, lets it go.
TEST(OrderedWorker, PushDoesNotWaitForTheRunningItem) {
  std::promise<void> go;
  std::shared_future<void> gate = go.get_future().share();
  std::vector<int> ran;
  OrderedWorker<int> w([&](const int& i) {
    if (i == 0) gate.wait();
    ran.push_back(i);
  });
  w.push(0);
  w.push(1);  // item 0 may be running and blocked: this must not wait for it
  go.set_value();
  w.wait_all();
  EXPECT_EQ(ran, (std::vector<int>{0, 1}));
}

TEST(OrderedWorker, TheFirstExceptionStopsTheWorkerAndEveryWaitRethrowsIt) {
  std::vector<int> ran;
  OrderedWorker<int> w([&](const int& i) {
    if (i == 2) throw std::runtime_error("item 2 failed");
    if (i == 3) throw std::logic_error("never reached");
    ran.push_back(i);
  });
  for (int i = 0; i < 5; ++i) w.push(i);
  for (int k = 0; k < 2; ++k) {
    try {
      w.wait_all();
      ADD_FAILURE() << "no exception";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "item 2 failed");
    }
  }
  w.push(5);
  EXPECT_THROW(w.wait_all(), std::runtime_error);
  EXPECT_EQ(ran, (std::vector<int>{0, 1}));
}

TEST(OrderedWorker, PopDoneRethrows) {
  OrderedWorker<int> w([](const int&) { throw std::runtime_error("gather failed"); });
  w.push(1);
  EXPECT_THROW(w.pop_done(), std::runtime_error);
}

TEST(OrderedWorker, DestroyedWhileAnItemRunsJoinsWithoutHanging) {
  std::atomic<int> ran{0};
  std::promise<void> started, go;
  std::shared_future<void> gate = go.get_future().share();
  std::thread release;
  {
    OrderedWorker<int> w([&](const int& i) {
      if (i == 0) {
        started.set_value();
        gate.wait();
      }
      ++ran;
    });
    for (int i = 0; i < 10; ++i) w.push(i);
    started.get_future().wait();  // item 0 runs and holds the worker
    release = std::thread([&] { go.set_value(); });
  }  // joins: item 0 finishes; the rest may be dropped
  release.join();
  EXPECT_GE(ran.load(), 1);
  EXPECT_LE(ran.load(), 10);
}

TEST(OrderedWorker, DestroyedAfterAnErrorJoins) {
  OrderedWorker<int> w([](const int&) { throw std::runtime_error("x"); });
  w.push(0);
  w.push(1);
  EXPECT_THROW(w.wait_all(), std::runtime_error);
}

}  // namespace
}  // namespace plait
