// TypeList and for_each_type: how the lists of strategies and workloads are
// walked at compile time (bench/main.cpp, the typed tests).
#pragma once

#include <cstddef>
#include <utility>

namespace gilbench {

template <class... Ts>
struct TypeList {};

// Calls fn.template operator()<T>() for every T in the list, in order.
template <class... Ts, class F>
void for_each_type(TypeList<Ts...>, F&& fn) {
  (fn.template operator()<Ts>(), ...);
}

// The same with each T's position: fn.template operator()<T, I>().
template <class... Ts, class F>
void for_each_type_indexed(TypeList<Ts...>, F&& fn) {
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (fn.template operator()<Ts, I>(), ...);
  }(std::index_sequence_for<Ts...>{});
}

}  // namespace gilbench
