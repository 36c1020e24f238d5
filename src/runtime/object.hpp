// The reference-counted object model every strategy and workload shares.
//
// An object is a header (the strategy's reference count, first, so a Header&
// is also the object's address) plus a type tag and a payload:
//
//   IntObj    boxed int64            ListObj  vector of references
//   StrObj    short string (<= 22)   DictObj  short string -> reference
//                                    NodeObj  tuple / tree node: 2 fixed slots + item
//
// Ref<T> is the owning handle: copy = incref, destruction = decref, move =
// free. When the last reference goes, the object's payload is destroyed,
// which drops the references it holds, as CPython's tp_dealloc does.
// Borrowed access (no count change) is a raw T*, written explicitly with
// .get(); Ref<T>::borrow(p) turns a borrowed pointer into a new reference.
// ImmortalSet makes objects immortal (PEP 683) and frees them at its end.
//
// Containers are read and written through the free functions below, which
// take S::lock on the container (a no-op where the GIL is the lock). Tuples
// (NodeObj) are immutable after construction, so reading a slot takes no lock.
#pragma once

#include <array>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/heap.hpp"
#include "strategies/strategy.hpp"

namespace gilbench {

enum class Type : std::uint8_t { kInt, kStr, kList, kDict, kNode };

template <Strategy S>
struct Object {
  using StrategyType = S;
  typename S::Header header;  // first member: see free_object<S>
  Type type;

  explicit Object(Type t) noexcept : type(t) {}
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;
};

template <Strategy S>
void destroy(Object<S>* o) noexcept;

template <class T>
class Ref {
 public:
  using S = typename T::StrategyType;

  Ref() noexcept = default;
  Ref(std::nullptr_t) noexcept {}

  // Takes over a reference the caller already owns (e.g. a fresh object).
  static Ref adopt(T* p) noexcept {
    Ref r;
    r.p_ = p;
    return r;
  }
  // A new reference to a borrowed object (Py_NewRef).
  static Ref borrow(T* p) noexcept {
    if (p) S::incref(p->header);
    return adopt(p);
  }

  Ref(const Ref& o) noexcept : p_(o.p_) {
    if (p_) S::incref(p_->header);
  }
  Ref(Ref&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  template <class U>
    requires std::is_convertible_v<U*, T*>
  Ref(const Ref<U>& o) noexcept : p_(o.get()) {
    if (p_) S::incref(p_->header);
  }
  template <class U>
    requires std::is_convertible_v<U*, T*>
  Ref(Ref<U>&& o) noexcept : p_(o.leak()) {}

  Ref& operator=(Ref o) noexcept {
    std::swap(p_, o.p_);  // the old object is dropped when o goes
    return *this;
  }
  ~Ref() { reset(); }

  void reset() noexcept {
    if (T* p = std::exchange(p_, nullptr)) {
      if (S::decref(p->header)) destroy<S>(p);
    }
  }
  // Gives up ownership without a decref; the caller now owns the reference.
  [[nodiscard]] T* leak() noexcept { return std::exchange(p_, nullptr); }

  T* get() const noexcept { return p_; }
  T* operator->() const noexcept { return p_; }
  T& operator*() const noexcept { return *p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }

 private:
  T* p_ = nullptr;
};

template <Strategy S>
using AnyRef = Ref<Object<S>>;

template <Strategy S>
struct IntObj : Object<S> {
  static constexpr Type kType = Type::kInt;
  std::int64_t value;
  explicit IntObj(std::int64_t v) noexcept : Object<S>(kType), value(v) {}
};

// FNV-1a, the string hash of this runtime (deterministic across processes,
// unlike CPython's randomised one, so checksums match everywhere).
constexpr std::uint64_t hash_bytes(std::string_view s) noexcept {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

template <Strategy S>
struct StrObj : Object<S> {
  static constexpr Type kType = Type::kStr;
  static constexpr std::size_t kMaxSize = 22;
  std::uint64_t hash;
  std::uint8_t size;
  char data[kMaxSize];

  explicit StrObj(std::string_view s) noexcept
      : Object<S>(kType), hash(hash_bytes(s.substr(0, kMaxSize))) {
    assert(s.size() <= kMaxSize && "StrObj holds short strings only");
    size = static_cast<std::uint8_t>(s.size() < kMaxSize ? s.size() : kMaxSize);
    std::memcpy(data, s.data(), size);
  }
  std::string_view view() const noexcept { return {data, size}; }
};

template <Strategy S>
struct ListObj : Object<S> {
  static constexpr Type kType = Type::kList;
  std::vector<AnyRef<S>, HeapAllocator<AnyRef<S>>> items;  // guarded by S::lock(header)
  ListObj() noexcept : Object<S>(kType) {}
};

// Open-addressing hash map from StrObj keys to references; linear probing,
// grows at 2/3 load. Only the dict functions below touch it.
template <Strategy S>
struct DictObj : Object<S> {
  static constexpr Type kType = Type::kDict;
  struct Slot {
    Ref<StrObj<S>> key;  // null: empty slot
    AnyRef<S> value;
  };
  std::vector<Slot, HeapAllocator<Slot>> slots;  // guarded by S::lock(header); size is a power of two
  std::size_t used = 0;     // guarded likewise
  DictObj() : Object<S>(kType), slots(8) {}
};

template <Strategy S>
struct NodeObj : Object<S> {
  static constexpr Type kType = Type::kNode;
  std::array<AnyRef<S>, 2> slots;  // immutable after construction
  std::int64_t item;
  NodeObj(AnyRef<S> left, AnyRef<S> right, std::int64_t it) noexcept
      : Object<S>(kType), slots{std::move(left), std::move(right)}, item(it) {}
};

// Allocates a T with one reference, owned by the returned Ref.
template <class T, class... Args>
Ref<T> make(Args&&... args) {
  void* mem = heap_alloc(sizeof(T));
  return Ref<T>::adopt(new (mem) T(std::forward<Args>(args)...));
}

namespace detail {
template <class T, Strategy S>
void destroy_as(Object<S>* o) noexcept {
  T* t = static_cast<T*>(o);
  t->~T();  // drops the references the payload holds
  heap_free(t, sizeof(T));
}
}  // namespace detail

template <Strategy S>
void destroy(Object<S>* o) noexcept {
  switch (o->type) {
    case Type::kInt: return detail::destroy_as<IntObj<S>>(o);
    case Type::kStr: return detail::destroy_as<StrObj<S>>(o);
    case Type::kList: return detail::destroy_as<ListObj<S>>(o);
    case Type::kDict: return detail::destroy_as<DictObj<S>>(o);
    case Type::kNode: return detail::destroy_as<NodeObj<S>>(o);
  }
}

// Frees the object whose header is h: for strategies that free objects
// outside a decref (biased_rc's merge).
template <Strategy S>
void free_object(typename S::Header& h) noexcept {
  static_assert(std::is_standard_layout_v<Object<S>>);
  destroy<S>(reinterpret_cast<Object<S>*>(&h));
}

// ---- immortal objects (PEP 683) ---------------------------------------------
//
// Small ints, interned strings and shared constants can be made immortal:
// their incref and decref become no-ops (S::make_immortal), so threads that
// share them write nothing to them. An ImmortalSet makes objects immortal and
// owns them: no count ever reaches zero, so the set frees them itself when it
// is destroyed (when the shared state that made them goes, after every worker
// is done), newest first. Add an object after the immortal objects it refers
// to (the order they are built in), so a container is freed before the objects
// it holds. Not thread-safe: the thread that builds the objects adds them, before they
// are shared.
template <Strategy S>
class ImmortalSet {
 public:
  ImmortalSet() = default;
  ImmortalSet(const ImmortalSet&) = delete;
  ImmortalSet& operator=(const ImmortalSet&) = delete;
  ~ImmortalSet() { clear(); }

  // make_immortal: *r is immortal from now on and lives until clear().
  template <class T>
  void add(const Ref<T>& r) {
    Object<S>* o = r.get();
    assert(o && "null object");
    objects_.reserve(objects_.size() + 1);  // may throw: before any change
    assert(!S::is_immortal(o->header) && "added twice, or made immortal elsewhere");
    S::make_immortal(o->header);
    objects_.push_back(o);
  }

  // Frees every object of the set, newest first.
  void clear() noexcept {
    while (!objects_.empty()) {
      Object<S>* o = objects_.back();
      objects_.pop_back();
      assert(S::is_immortal(o->header) && "an immortal object lost its state");
      destroy<S>(o);
    }
  }

  std::size_t size() const noexcept { return objects_.size(); }

 private:
  std::vector<Object<S>*> objects_;  // in the order added
};

// Checked downcast of a borrowed object.
template <class T, Strategy S>
T* cast(Object<S>* o) noexcept {
  assert(o && o->type == T::kType && "object has another type");
  return static_cast<T*>(o);
}

// ---- list -----------------------------------------------------------------

template <Strategy S>
void list_append(ListObj<S>& list, std::type_identity_t<AnyRef<S>> item) {
  [[maybe_unused]] auto guard = S::lock(list.header);
  list.items.push_back(std::move(item));
}

// list[i] as a new reference.
template <Strategy S>
AnyRef<S> list_get(ListObj<S>& list, std::size_t i) {
  [[maybe_unused]] auto guard = S::lock(list.header);
  assert(i < list.items.size());
  return list.items[i];
}

// Moves from's last item to the end of to, as one step under both lists'
// locks (S::lock(a, b): the two-object critical section); no count changes.
// RETURNS false, moving nothing, if from is empty.
template <Strategy S>
bool list_move_last(ListObj<S>& from, ListObj<S>& to) {
  [[maybe_unused]] auto guard = S::lock(from.header, to.header);
  if (from.items.empty()) return false;
  to.items.push_back(std::move(from.items.back()));  // may throw: before any change to from
  from.items.pop_back();
  return true;
}

template <Strategy S>
std::size_t list_size(ListObj<S>& list) {
  [[maybe_unused]] auto guard = S::lock(list.header);
  return list.items.size();
}

// ---- dict -----------------------------------------------------------------

namespace detail {
template <Strategy S>
bool key_equal(const StrObj<S>& a, const StrObj<S>& b) noexcept {
  return &a == &b || (a.hash == b.hash && a.view() == b.view());
}

// The slot holding key, or the empty slot where it would go. Caller holds the lock.
template <Strategy S>
typename DictObj<S>::Slot& dict_find(DictObj<S>& d, const StrObj<S>& key) noexcept {
  const std::size_t mask = d.slots.size() - 1;
  for (std::size_t i = key.hash & mask;; i = (i + 1) & mask) {
    auto& slot = d.slots[i];
    if (!slot.key || key_equal(*slot.key, key)) return slot;
  }
}

template <Strategy S>
void dict_grow(DictObj<S>& d) {
  decltype(d.slots) old(d.slots.size() * 2);
  old.swap(d.slots);
  for (auto& s : old)
    if (s.key) {
      auto& dst = dict_find(d, *s.key);
      dst = std::move(s);
    }
}
}  // namespace detail

// d[key] = update(d.get(key)) as one step under the container's lock: the
// word-count update of shared_dict. update gets a borrowed Object* (null if
// absent) and returns the new value.
template <Strategy S, class F>
void dict_update(DictObj<S>& d, const Ref<StrObj<S>>& key, F&& update) {
  AnyRef<S> old;
  {
    [[maybe_unused]] auto guard = S::lock(d.header);
    auto* slot = &detail::dict_find(d, *key);
    if (!slot->key) {
      if ((d.used + 1) * 3 > d.slots.size() * 2) {
        detail::dict_grow(d);
        slot = &detail::dict_find(d, *key);
      }
      slot->key = key;
      ++d.used;
    }
    AnyRef<S> fresh = update(slot->value.get());  // may allocate, never drops
    old = std::exchange(slot->value, std::move(fresh));
  }
}

// Visits every (key, value) pair, borrowed, under the lock.
template <Strategy S, class F>
void dict_for_each(DictObj<S>& d, F&& fn) {
  [[maybe_unused]] auto guard = S::lock(d.header);
  for (auto& s : d.slots)
    if (s.key) fn(*s.key, *s.value);
}

}  // namespace gilbench
