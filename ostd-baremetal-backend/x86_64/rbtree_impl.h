// Red-black tree rebalancing for libstdc++'s std::map/std::set nodes (the out-of-line part of
// <bits/stl_tree.h> that lives in libstdc++.so on a hosted system). Header-only so the host
// unit tests can check it against libstdc++'s own (tests/unit/baremetal/rbtree_test.cpp).
// Conventions of libstdc++: the header node's parent is the root, its left the leftmost node,
// its right the rightmost; the header is red, the root black.
#pragma once

#include <bits/stl_tree.h>

namespace ostd::x86::rb {

using Node = std::_Rb_tree_node_base;
inline constexpr std::_Rb_tree_color kRed = std::_S_red;
inline constexpr std::_Rb_tree_color kBlack = std::_S_black;

inline Node* increment(Node* x) {
  if (x->_M_right != nullptr) {
    x = x->_M_right;
    while (x->_M_left != nullptr) x = x->_M_left;
  } else {
    Node* y = x->_M_parent;
    while (x == y->_M_right) {
      x = y;
      y = y->_M_parent;
    }
    if (x->_M_right != y) x = y;  // the header's right is the root's ... unless at the end
  }
  return x;
}

inline Node* decrement(Node* x) {
  if (x->_M_color == kRed && x->_M_parent->_M_parent == x) {
    x = x->_M_right;  // end() (the header) -> the rightmost node
  } else if (x->_M_left != nullptr) {
    Node* y = x->_M_left;
    while (y->_M_right != nullptr) y = y->_M_right;
    x = y;
  } else {
    Node* y = x->_M_parent;
    while (x == y->_M_left) {
      x = y;
      y = y->_M_parent;
    }
    x = y;
  }
  return x;
}

inline void rotate_left(Node* x, Node*& root) {
  Node* y = x->_M_right;
  x->_M_right = y->_M_left;
  if (y->_M_left != nullptr) y->_M_left->_M_parent = x;
  y->_M_parent = x->_M_parent;
  if (x == root) {
    root = y;
  } else if (x == x->_M_parent->_M_left) {
    x->_M_parent->_M_left = y;
  } else {
    x->_M_parent->_M_right = y;
  }
  y->_M_left = x;
  x->_M_parent = y;
}

inline void rotate_right(Node* x, Node*& root) {
  Node* y = x->_M_left;
  x->_M_left = y->_M_right;
  if (y->_M_right != nullptr) y->_M_right->_M_parent = x;
  y->_M_parent = x->_M_parent;
  if (x == root) {
    root = y;
  } else if (x == x->_M_parent->_M_right) {
    x->_M_parent->_M_right = y;
  } else {
    x->_M_parent->_M_left = y;
  }
  y->_M_right = x;
  x->_M_parent = y;
}

inline void insert_and_rebalance(bool insert_left, Node* x, Node* p, Node& header) {
  Node*& root = header._M_parent;
  x->_M_parent = p;
  x->_M_left = nullptr;
  x->_M_right = nullptr;
  x->_M_color = kRed;
  if (insert_left) {
    p->_M_left = x;  // when p is the header this also sets the leftmost
    if (p == &header) {
      header._M_parent = x;
      header._M_right = x;
    } else if (p == header._M_left) {
      header._M_left = x;
    }
  } else {
    p->_M_right = x;
    if (p == header._M_right) header._M_right = x;
  }
  while (x != root && x->_M_parent->_M_color == kRed) {
    Node* const xpp = x->_M_parent->_M_parent;
    if (x->_M_parent == xpp->_M_left) {
      Node* const y = xpp->_M_right;
      if (y != nullptr && y->_M_color == kRed) {
        x->_M_parent->_M_color = kBlack;
        y->_M_color = kBlack;
        xpp->_M_color = kRed;
        x = xpp;
      } else {
        if (x == x->_M_parent->_M_right) {
          x = x->_M_parent;
          rotate_left(x, root);
        }
        x->_M_parent->_M_color = kBlack;
        xpp->_M_color = kRed;
        rotate_right(xpp, root);
      }
    } else {
      Node* const y = xpp->_M_left;
      if (y != nullptr && y->_M_color == kRed) {
        x->_M_parent->_M_color = kBlack;
        y->_M_color = kBlack;
        xpp->_M_color = kRed;
        x = xpp;
      } else {
        if (x == x->_M_parent->_M_left) {
          x = x->_M_parent;
          rotate_right(x, root);
        }
        x->_M_parent->_M_color = kBlack;
        xpp->_M_color = kRed;
        rotate_left(xpp, root);
      }
    }
  }
  root->_M_color = kBlack;
}

/// Unlinks z and rebalances; returns the node to free (z itself).
inline Node* rebalance_for_erase(Node* const z, Node& header) {
  Node*& root = header._M_parent;
  Node*& leftmost = header._M_left;
  Node*& rightmost = header._M_right;
  Node* y = z;
  Node* x = nullptr;
  Node* x_parent = nullptr;
  if (y->_M_left == nullptr) {
    x = y->_M_right;
  } else if (y->_M_right == nullptr) {
    x = y->_M_left;
  } else {
    y = y->_M_right;
    while (y->_M_left != nullptr) y = y->_M_left;
    x = y->_M_right;
  }
  if (y != z) {
    // y (z's successor) takes z's place.
    z->_M_left->_M_parent = y;
    y->_M_left = z->_M_left;
    if (y != z->_M_right) {
      x_parent = y->_M_parent;
      if (x != nullptr) x->_M_parent = y->_M_parent;
      y->_M_parent->_M_left = x;
      y->_M_right = z->_M_right;
      z->_M_right->_M_parent = y;
    } else {
      x_parent = y;
    }
    if (root == z) {
      root = y;
    } else if (z->_M_parent->_M_left == z) {
      z->_M_parent->_M_left = y;
    } else {
      z->_M_parent->_M_right = y;
    }
    y->_M_parent = z->_M_parent;
    std::swap(y->_M_color, z->_M_color);
    y = z;
  } else {
    x_parent = y->_M_parent;
    if (x != nullptr) x->_M_parent = y->_M_parent;
    if (root == z) {
      root = x;
    } else if (z->_M_parent->_M_left == z) {
      z->_M_parent->_M_left = x;
    } else {
      z->_M_parent->_M_right = x;
    }
    if (leftmost == z) {
      if (z->_M_right == nullptr) {
        leftmost = z->_M_parent;
      } else {
        Node* m = x;
        while (m->_M_left != nullptr) m = m->_M_left;
        leftmost = m;
      }
    }
    if (rightmost == z) {
      if (z->_M_left == nullptr) {
        rightmost = z->_M_parent;
      } else {
        Node* m = x;
        while (m->_M_right != nullptr) m = m->_M_right;
        rightmost = m;
      }
    }
  }
  if (y->_M_color != kRed) {
    while (x != root && (x == nullptr || x->_M_color == kBlack)) {
      if (x == x_parent->_M_left) {
        Node* w = x_parent->_M_right;
        if (w->_M_color == kRed) {
          w->_M_color = kBlack;
          x_parent->_M_color = kRed;
          rotate_left(x_parent, root);
          w = x_parent->_M_right;
        }
        if ((w->_M_left == nullptr || w->_M_left->_M_color == kBlack) &&
            (w->_M_right == nullptr || w->_M_right->_M_color == kBlack)) {
          w->_M_color = kRed;
          x = x_parent;
          x_parent = x_parent->_M_parent;
        } else {
          if (w->_M_right == nullptr || w->_M_right->_M_color == kBlack) {
            w->_M_left->_M_color = kBlack;
            w->_M_color = kRed;
            rotate_right(w, root);
            w = x_parent->_M_right;
          }
          w->_M_color = x_parent->_M_color;
          x_parent->_M_color = kBlack;
          if (w->_M_right != nullptr) w->_M_right->_M_color = kBlack;
          rotate_left(x_parent, root);
          break;
        }
      } else {
        Node* w = x_parent->_M_left;
        if (w->_M_color == kRed) {
          w->_M_color = kBlack;
          x_parent->_M_color = kRed;
          rotate_right(x_parent, root);
          w = x_parent->_M_left;
        }
        if ((w->_M_right == nullptr || w->_M_right->_M_color == kBlack) &&
            (w->_M_left == nullptr || w->_M_left->_M_color == kBlack)) {
          w->_M_color = kRed;
          x = x_parent;
          x_parent = x_parent->_M_parent;
        } else {
          if (w->_M_left == nullptr || w->_M_left->_M_color == kBlack) {
            w->_M_right->_M_color = kBlack;
            w->_M_color = kRed;
            rotate_left(w, root);
            w = x_parent->_M_left;
          }
          w->_M_color = x_parent->_M_color;
          x_parent->_M_color = kBlack;
          if (w->_M_left != nullptr) w->_M_left->_M_color = kBlack;
          rotate_right(x_parent, root);
          break;
        }
      }
    }
    if (x != nullptr) x->_M_color = kBlack;
  }
  return y;
}

}  // namespace ostd::x86::rb
