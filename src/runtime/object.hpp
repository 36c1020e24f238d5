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
#include <atomic>
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
  [[gnu::always_inline]] ~Ref() { reset(); }

  // Always inlined, as Py_DECREF is: the owner's decref is a few plain
  // instructions, and GCC's per-unit budget would otherwise keep it out of
  // line in some strategies' units and not others (a call per decref that
  // serial does not pay).
  [[gnu::always_inline]] void reset() noexcept {
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

// Strategies that read list items without the list's lock (PEP 703's
// optimistic reads: biased_rc). Such a strategy also provides
//   S::owned_by_current_thread(h)  the calling thread made h (reads its own
//                                  containers without the lock)
//   S::is_shared(h), S::mark_shared(h)  another thread has accessed the
//                                  container under its lock (set then, by that
//                                  thread, as CPython's _PyObject_GC_SET_SHARED)
//   S::retire_ref(h)               drop a reference once no optimistic reader
//                                  can still hold a pointer it loaded (QSBR)
//   S::retire_block(p, bytes)      free p (heap_raw_alloc'd) likewise
template <class S>
concept OptimisticReads = requires { requires S::kOptimisticReads; };

// A list's items (CPython's ob_item): an array of owned references, changed
// only under the list's lock. Its size, array and slots are atomics (relaxed
// or release/acquire: plain movs on x86-64), so that an optimistic reader can
// load them without the lock; the array keeps its capacity beside it, as
// CPython's does, so a reader never indexes past what it loaded.
//
// Slots are built when first written (a new array is not zeroed). Under a
// strategy without optimistic readers (every other) nothing can see the
// array outside the lock, so clearing the list or popping an item leaves the
// slots as they are, as a vector would; emptying them is the optimistic
// protocol's cost (a reader's recheck must see the slot change), biased_rc's
// only. With zeroed arrays and emptied slots for every strategy, list_sum
// took 28% more instructions under serial.
template <Strategy S>
class ListItems {
  static constexpr bool kReaders = OptimisticReads<S>;  // lock-free readers may look
  using Slot = std::atomic<Object<S>*>;
  // The array: its capacity, then the slots.
  struct Block {
    std::size_t capacity;
    Slot& slot(std::size_t i) noexcept { return reinterpret_cast<Slot*>(this + 1)[i]; }
  };
  static_assert(alignof(Slot) <= alignof(Block));

 public:
  ListItems() noexcept = default;
  ListItems(const ListItems&) = delete;
  ListItems& operator=(const ListItems&) = delete;
  ~ListItems() {
    clear();
    if (Block* b = block_.load(std::memory_order_relaxed)) free_block(b);  // relaxed: no reader holds the list
  }

  // Caller holds the lock (or is the only thread that can see the list).
  std::size_t size() const noexcept { return size_.load(std::memory_order_relaxed); }  // relaxed: under the lock
  bool empty() const noexcept { return size() == 0; }
  // items[i], borrowed. Caller holds the lock.
  Object<S>* at(std::size_t i) const noexcept {
    assert(i < size());
    return block_.load(std::memory_order_relaxed)->slot(i).load(std::memory_order_relaxed);  // relaxed: under the lock
  }

  // Makes room for one more item. Caller holds the lock. A full array is
  // replaced by one twice its size; the old one is freed at once, or handed
  // to retire(p, bytes) when optimistic readers may still be reading it.
  // Throws (bad_alloc) before any change.
  template <class Retire>
  void reserve_one(Retire&& retire) {
    Block* b = block_.load(std::memory_order_relaxed);  // relaxed: under the lock
    if (b && size() < b->capacity) [[likely]] return;
    grow(b, retire);
  }

 private:
  // Out of line, as a vector's reallocation is: the append that inlines is
  // the common one, with room.
  template <class Retire>
  [[gnu::noinline]] void grow(Block* b, Retire& retire) {
    const std::size_t n = size();
    Block* grown = new_block(b ? 2 * b->capacity : 8);
    // Relaxed: the array is not published yet.
    for (std::size_t i = 0; i < n; ++i) new (&grown->slot(i)) Slot(b->slot(i).load(std::memory_order_relaxed));
    // Release: a reader that loads the new array sees its slots.
    block_.store(grown, std::memory_order_release);
    if (b) retire(static_cast<void*>(b), bytes_of(b->capacity));
  }

 public:
  // Appends r. Caller holds the lock and has called reserve_one.
  void push_back_reserved(AnyRef<S> r) noexcept {
    const std::size_t n = size();
    Block* b = block_.load(std::memory_order_relaxed);  // relaxed: under the lock
    assert(b && n < b->capacity && "push_back_reserved without reserve_one");
    // Release (both): a reader that loads the slot or the new size sees the
    // object the slot points to fully built. Without readers the slot may
    // never have been built: build it (a slot is a pointer, trivially
    // destructible, so building over an emptied one is a store).
    if constexpr (kReaders)
      b->slot(n).store(r.leak(), std::memory_order_release);  // a reader may still load an emptied slot
    else
      new (&b->slot(n)) Slot(r.leak());
    size_.store(n + 1, std::memory_order_release);
  }
  template <class Retire>
  void push_back(AnyRef<S> r, Retire&& retire) {
    reserve_one(retire);
    push_back_reserved(std::move(r));
  }
  AnyRef<S> pop_back() noexcept {
    const std::size_t n = size();
    assert(n > 0);
    Slot& slot = block_.load(std::memory_order_relaxed)->slot(n - 1);  // relaxed: under the lock
    size_.store(n - 1, std::memory_order_release);  // release: as in push_back
    // Relaxed load: under the lock; release store: a reader's recheck sees the
    // slot emptied.
    Object<S>* o = slot.load(std::memory_order_relaxed);
    if constexpr (kReaders) slot.store(nullptr, std::memory_order_release);
    return AnyRef<S>::adopt(o);
  }
  // Drops every item, last first (the array stays). Caller holds the lock
  // and no optimistic reader can see the list.
  void clear() noexcept {
    if constexpr (kReaders) {
      while (!empty()) pop_back();
    } else {  // nothing reads the slots again before they are rebuilt
      Block* b = block_.load(std::memory_order_relaxed);
      std::size_t n = size();
      size_.store(0, std::memory_order_relaxed);  // first: a destructor that looks sees it empty
      for (; n > 0; --n) (void)AnyRef<S>::adopt(b->slot(n - 1).load(std::memory_order_relaxed));
    }
  }

  // An optimistic read: a new reference to items[i], or null if i is out of
  // range or the slot changed under the read (the caller then takes the
  // lock). Safe only where every reference this list gives up, and every
  // array it replaces, outlives the reader's next quiescent point.
  Object<S>* try_get_ref(std::size_t i) noexcept {
    // Acquire (size, then array): the array loaded is at least as new as the
    // one the size was stored for; its own capacity bounds the index.
    if (i >= size_.load(std::memory_order_acquire)) return nullptr;
    Block* b = block_.load(std::memory_order_acquire);
    if (!b || i >= b->capacity) return nullptr;
    Slot& slot = b->slot(i);
    Object<S>* o = slot.load(std::memory_order_acquire);  // acquire: the object is built
    if (!o) return nullptr;
    S::incref(o->header);
    // Recheck (PEP 703's try-incref-and-recheck): the slot still holds o,
    // so the read is one of the list's states. Else give the reference back
    // (never the last one: the list's is retired, not dropped) and fail.
    if (slot.load(std::memory_order_acquire) == o) [[likely]] return o;
    if (S::decref(o->header)) destroy<S>(o);
    return nullptr;
  }

 private:
  static std::size_t bytes_of(std::size_t capacity) noexcept { return sizeof(Block) + capacity * sizeof(Slot); }
  // Slots [0, n) are built by the caller (reserve_one), the rest when first
  // written: no reader loads one before. A reader loads a slot below the
  // size it loaded first, from an array at least as new; each array is made
  // when the one before it is full, with every slot below that capacity
  // copied, so every slot below any size the list had is written in it.
  static Block* new_block(std::size_t capacity) {
    // Raw: the ledger counts objects; arrays are the object heap's too, uncounted, as a vector's were.
    return new (heap_raw_alloc(bytes_of(capacity))) Block{capacity};
  }
  static void free_block(Block* b) noexcept { heap_raw_free(b); }

  std::atomic<std::size_t> size_{0};
  std::atomic<Block*> block_{nullptr};
};

template <Strategy S>
struct ListObj : Object<S> {
  static constexpr Type kType = Type::kList;
  ListItems<S> items;  // changed under S::lock(header)
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

// Allocates a T with one reference, owned by the returned Ref. Always
// inlined, like reset(): the header's initialisation is part of the strategy's
// cost, the allocator's call is not.
template <class T, class... Args>
[[gnu::always_inline]] inline Ref<T> make(Args&&... args) {
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

namespace detail {
// Every write and every locked read takes S::lock on the container, then
// calls note_access. Under an optimistic strategy a thread that is not the
// container's owner marks it shared there (under the lock, as CPython does),
// so that from then on what the container gives up is retired rather than
// dropped or freed at once: containers only their owner touches keep the
// plain path.
template <Strategy S>
void note_access(typename S::Header& h) noexcept {
  if constexpr (OptimisticReads<S>) {
    if (!S::owned_by_current_thread(h) && !S::is_shared(h)) S::mark_shared(h);
  } else {
    (void)h;
  }
}

// The guard of a read under the lock: S::lock_for_read where the strategy
// tells reads from writes (the counting pass of bench/explain.hpp), else
// S::lock. Returned as a prvalue: guards need not be movable.
template <Strategy S>
auto read_lock(typename S::Header& h) {
  if constexpr (requires { S::lock_for_read(h); })
    return S::lock_for_read(h);
  else
    return S::lock(h);
}

// Whether what a container gives up must outlive optimistic readers. Caller
// holds its lock.
template <Strategy S>
bool retires(const typename S::Header& h) noexcept {
  if constexpr (OptimisticReads<S>)
    return S::is_shared(h);
  else
    return false;
}

// What ListItems::push_back does with an array it replaced.
template <Strategy S>
auto block_disposal(const typename S::Header& h) noexcept {
  return [retire = retires<S>(h)](void* p, std::size_t bytes) noexcept {
    if constexpr (OptimisticReads<S>) {
      if (retire) return S::retire_block(p, bytes);
    }
    (void)retire;
    (void)bytes;
    heap_raw_free(p);
  };
}
}  // namespace detail

// Inlined, as CPython 3.13 inlines _PyList_AppendTakeRef's fast path (the
// growth is out of line).
template <Strategy S>
[[gnu::always_inline]] inline void list_append(ListObj<S>& list, std::type_identity_t<AnyRef<S>> item) {
  [[maybe_unused]] auto guard = S::lock(list.header);
  detail::note_access<S>(list.header);
  list.items.push_back(std::move(item), detail::block_disposal<S>(list.header));
}

// list[i] as a new reference. Under an optimistic strategy the owner, and
// any thread once the list is shared, read without the lock (PEP 703); the
// lock is the fallback when the slot changes under the read.
// Inlined, as CPython's list_get_item_ref is.
template <Strategy S>
[[gnu::always_inline]] inline AnyRef<S> list_get(ListObj<S>& list, std::size_t i) {
  if constexpr (OptimisticReads<S>) {
    if (S::owned_by_current_thread(list.header) || S::is_shared(list.header)) {
      if (Object<S>* o = list.items.try_get_ref(i)) [[likely]]
        return AnyRef<S>::adopt(o);
    }
  }
  [[maybe_unused]] auto guard = detail::read_lock<S>(list.header);
  detail::note_access<S>(list.header);
  assert(i < list.items.size());
  return AnyRef<S>::borrow(list.items.at(i));
}

// Moves from's last item to the end of to, as one step under both lists'
// locks (S::lock(a, b): the two-object critical section); no count changes,
// except that a shared `from` keeps the item alive for its optimistic readers
// (one reference taken and retired). RETURNS false, moving nothing, if from
// is empty.
template <Strategy S>
bool list_move_last(ListObj<S>& from, ListObj<S>& to) {
  [[maybe_unused]] auto guard = S::lock(from.header, to.header);
  detail::note_access<S>(from.header);
  detail::note_access<S>(to.header);
  if (from.items.empty()) return false;
  to.items.reserve_one(detail::block_disposal<S>(to.header));  // may throw: before any change to from
  AnyRef<S> item = from.items.pop_back();
  if constexpr (OptimisticReads<S>) {
    if (detail::retires<S>(from.header)) {
      S::incref(item->header);
      S::retire_ref(item->header);
    }
  }
  to.items.push_back_reserved(std::move(item));
  return true;
}

// len(list): under an optimistic strategy one relaxed load, as CPython's
// PyList_GET_SIZE; else under the lock.
template <Strategy S>
std::size_t list_size(ListObj<S>& list) {
  if constexpr (OptimisticReads<S>) {
    return list.items.size();
  } else {
    [[maybe_unused]] auto guard = detail::read_lock<S>(list.header);
    return list.items.size();
  }
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
    detail::note_access<S>(d.header);
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
  detail::note_access<S>(d.header);
  for (auto& s : d.slots)
    if (s.key) fn(*s.key, *s.value);
}

}  // namespace gilbench
