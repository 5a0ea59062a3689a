// Recursive halving-doubling allreduce (Rabenseifner): the latency-optimal choice for
// small buffers, log2 p steps each way instead of p-1.
//
// Let p2 be the largest power of two <= p and r = p - p2 the extra ranks.
//   fold (step 0): among ranks 0 .. 2r-1, each even rank sends its whole buffer to the
//     odd rank after it, which adds it in and takes part below as virtual rank i/2;
//     the even ranks wait. Ranks 2r .. p-1 take part as virtual rank i - r.
//   halving (steps 1 .. L, L = log2 p2): at step i the virtual ranks v and v xor 2^(i-1)
//     split their current segment in two; the one with that bit clear keeps the lower
//     half, the other the upper; each sends the half it gives up and adds the half it
//     receives into the half it keeps. After L steps each virtual rank owns 1/p2 of
//     the buffer, summed over everyone, in a fixed pairwise order.
//   doubling (steps L+1 .. 2L): the same pairs in reverse order swap the halves they
//     own, doubling what each holds until everyone has the whole buffer.
//   unfold (step 2L+1): each odd rank below 2r copies the result to its even partner.
// Partners are closest first (distance 1, 2, 4, ...), so with ranks numbered node by
// node the largest messages stay inside a node.
//
// Cost: 2·log2 p2 steps (plus 2 when p is not a power of two); step i moves
// n/2^i bytes; 2(p2-1)/p2 · n bytes per rank.
#include "comm/collectives.h"
#include "comm/primitives.h"

namespace plait::comm {
namespace {

struct Segment {
  std::size_t lo = 0, hi = 0;  // element range
};

class AllreduceHalvingDoubling final : public Allreduce {
 public:
  explicit AllreduceHalvingDoubling(Group& g) : group_(g) {
    const int p = g.size(), me = g.rank();
    while (p2_ * 2 <= p) p2_ *= 2, ++levels_;
    extra_ = p - p2_;
    if (me < 2 * extra_)
      virtual_ = me % 2 == 1 ? me / 2 : -1;
    else
      virtual_ = me - extra_;
  }

  void run(Bytes data, DType dtype) override {
    Primitives p(group_, "allreduce(halving-doubling)", dtype);
    if (group_.size() == 1 || data.empty()) return;
    elem_ = dtype_size(dtype);
    const int me = p.rank();
    if (virtual_ < 0) {  // an even rank below 2r: fold into the odd partner, get the result
      p.send(me + 1, 0, data);
      p.wait();
      p.recv_copy(me + 1, 2 * levels_ + 1, data);
      p.wait();
      return;
    }
    if (me < 2 * extra_) {
      p.recv_reduce(me - 1, 0, data);
      p.wait();
    }
    std::vector<Segment> kept = halve(p, data);
    double_up(p, data, kept);
    if (me < 2 * extra_) {
      p.send(me - 1, 2 * levels_ + 1, data);
      p.wait();
    }
  }

 private:
  int real_rank(int v) const { return v < extra_ ? 2 * v + 1 : v + extra_; }
  Bytes bytes(Bytes data, Segment s) const {
    return data.subspan(s.lo * elem_, (s.hi - s.lo) * elem_);
  }

  // Returns the segment held before each step (index i: before step i).
  std::vector<Segment> halve(Primitives& p, Bytes data) const {
    std::vector<Segment> before;
    Segment seg{0, data.size() / elem_};
    for (int i = 0; i < levels_; ++i) {
      before.push_back(seg);
      const int bit = 1 << i, partner = real_rank(virtual_ ^ bit);
      const std::size_t mid = seg.lo + (seg.hi - seg.lo) / 2;
      const Segment low{seg.lo, mid}, high{mid, seg.hi};
      const bool keep_low = (virtual_ & bit) == 0;
      p.send_recv_reduce(partner, bytes(data, keep_low ? high : low), partner,
                         bytes(data, keep_low ? low : high), 1 + i);
      seg = keep_low ? low : high;
    }
    before.push_back(seg);
    return before;
  }

  void double_up(Primitives& p, Bytes data, const std::vector<Segment>& before) const {
    for (int i = levels_ - 1; i >= 0; --i) {
      const int bit = 1 << i, partner = real_rank(virtual_ ^ bit);
      const Segment whole = before[i], mine = before[i + 1];
      const Segment theirs =
          mine.lo == whole.lo ? Segment{mine.hi, whole.hi} : Segment{whole.lo, mine.lo};
      p.send_recv_copy(partner, bytes(data, mine), partner, bytes(data, theirs),
                       1 + levels_ + (levels_ - 1 - i));
    }
  }

  Group group_;
  int p2_ = 1, levels_ = 0, extra_ = 0;
  int virtual_ = 0;  // -1: folded away
  std::size_t elem_ = 4;
};

}  // namespace

std::unique_ptr<Allreduce> make_allreduce_halving_doubling(Group& group) {
  return std::make_unique<AllreduceHalvingDoubling>(group);
}

}  // namespace plait::comm
