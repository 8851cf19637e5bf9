// The bare-metal kernel's own red-black rebalancing for std::map/std::set nodes
// (ostd-baremetal-backend/x86_64/rbtree_impl.h), checked on the host: random inserts and erases
// keep every red-black invariant, libstdc++'s header conventions and the in-order sequence of a
// reference std::set; iteration both ways matches it.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <set>
#include <vector>

#include "rbtree_impl.h"

namespace {

namespace rb = ostd::x86::rb;
using Base = std::_Rb_tree_node_base;

struct Node : Base {
  int key = 0;
};

int key_of(const Base* n) { return static_cast<const Node*>(n)->key; }

class Tree {
 public:
  Tree() {
    header_._M_color = std::_S_red;
    header_._M_parent = nullptr;
    header_._M_left = &header_;
    header_._M_right = &header_;
  }
  ~Tree() {
    for (Node* n : owned_) delete n;
  }
  bool insert(int key) {
    Base* parent = &header_;
    Base* x = header_._M_parent;
    bool left = true;
    while (x != nullptr) {
      parent = x;
      if (key == key_of(x)) return false;
      left = key < key_of(x);
      x = left ? x->_M_left : x->_M_right;
    }
    auto* n = new Node;
    n->key = key;
    owned_.push_back(n);
    rb::insert_and_rebalance(parent == &header_ || left, n, parent, header_);
    return true;
  }
  bool erase(int key) {
    Base* x = header_._M_parent;
    while (x != nullptr && key_of(x) != key) x = key < key_of(x) ? x->_M_left : x->_M_right;
    if (x == nullptr) return false;
    Base* gone = rb::rebalance_for_erase(x, header_);
    EXPECT_EQ(gone, x);
    return true;
  }
  // Black height of the subtree, or -1 when an invariant is broken (reported).
  int check(const Base* n, const Base* parent) const {
    if (n == nullptr) return 1;
    EXPECT_EQ(n->_M_parent, parent);
    if (n->_M_color == std::_S_red) {
      EXPECT_TRUE(n->_M_left == nullptr || n->_M_left->_M_color == std::_S_black);
      EXPECT_TRUE(n->_M_right == nullptr || n->_M_right->_M_color == std::_S_black);
    }
    if (n->_M_left != nullptr) {
      EXPECT_LT(key_of(n->_M_left), key_of(n));
    }
    if (n->_M_right != nullptr) {
      EXPECT_GT(key_of(n->_M_right), key_of(n));
    }
    int l = check(n->_M_left, n);
    int r = check(n->_M_right, n);
    EXPECT_EQ(l, r);
    return l + (n->_M_color == std::_S_black ? 1 : 0);
  }
  void verify(const std::set<int>& model) {
    const Base* root = header_._M_parent;
    if (model.empty()) {
      EXPECT_EQ(root, nullptr);
      EXPECT_EQ(header_._M_left, &header_);
      EXPECT_EQ(header_._M_right, &header_);
      return;
    }
    ASSERT_NE(root, nullptr);
    EXPECT_EQ(root->_M_color, std::_S_black);
    check(root, &header_);
    EXPECT_EQ(key_of(header_._M_left), *model.begin());
    EXPECT_EQ(key_of(header_._M_right), *model.rbegin());
    std::vector<int> fwd;
    for (Base* i = header_._M_left; i != &header_; i = rb::increment(i)) fwd.push_back(key_of(i));
    EXPECT_EQ(fwd, std::vector<int>(model.begin(), model.end()));
    std::vector<int> back;
    for (Base* i = rb::decrement(&header_);; i = rb::decrement(i)) {
      back.push_back(key_of(i));
      if (i == header_._M_left) break;
    }
    EXPECT_EQ(back, std::vector<int>(model.rbegin(), model.rend()));
  }

 private:
  Base header_{};
  std::vector<Node*> owned_;
};

TEST(RbTree, RandomInsertsAndErasesKeepTheInvariants) {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    Tree t;
    std::set<int> model;
    for (int step = 0; step < 2000; ++step) {
      int key = static_cast<int>(rng() % 300);
      if (rng() % 3 != 0) {
        EXPECT_EQ(t.insert(key), model.insert(key).second);
      } else {
        EXPECT_EQ(t.erase(key), model.erase(key) == 1);
      }
      if (step % 97 == 0) t.verify(model);
    }
    t.verify(model);
    for (int k : std::vector<int>(model.begin(), model.end())) {
      t.erase(k);
      model.erase(k);
    }
    t.verify(model);
    if (HasFailure()) FAIL() << "seed " << seed;
  }
}

TEST(RbTree, AscendingAndDescendingRuns) {
  Tree t;
  std::set<int> model;
  for (int i = 0; i < 500; ++i) {
    t.insert(i);
    model.insert(i);
  }
  for (int i = 1000; i > 500; --i) {
    t.insert(i);
    model.insert(i);
  }
  t.verify(model);
  for (int i = 0; i < 1000; i += 2) {
    t.erase(i);
    model.erase(i);
  }
  t.verify(model);
}

}  // namespace
