// ThreadSanitizer builds only (CONVEYOR_SANITIZER=tsan links it into every
// executable). Debian's Abseil is not built with -fsanitize=thread, so its
// absl::Mutex and absl::CondVar (used by our code, and by gRPC underneath
// grpc_core::Mutex) carry no TSan annotations: TSan would see none of their
// happens-before edges and report every ABSL_GUARDED_BY field as a race.
//
// This file defines the Mutex/CondVar entry points in the executable, which
// the dynamic linker prefers over libabsl_synchronization.so's (for calls
// from our code, from gRPC and from Abseil itself). Each forwards to the
// library's definition (dlsym RTLD_NEXT) between the annotations that Abseil
// itself adds when it is built with TSan (__tsan_mutex_pre_lock etc.).
// Nothing is suppressed: the locks become visible.

#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/synchronization/notification.h"

namespace {

#define CONVEYOR_STR2(x) #x
#define CONVEYOR_STR(x) CONVEYOR_STR2(x)

// The address of Abseil's own definition of `absl::<inline namespace>::`
// followed by `rest` (an Itanium-mangled name tail); `is_const` for a const
// member function.
template <typename Fn>
Fn Real(const char* rest, bool is_const = false) {
  const char* ns = CONVEYOR_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const std::string name = std::string(is_const ? "_ZNK4absl" : "_ZN4absl") +
                           std::to_string(std::strlen(ns)) + ns + rest;
  void* f = dlsym(RTLD_NEXT, name.c_str());
  if (f == nullptr) {
    std::fprintf(stderr, "tsan_absl_mutex: %s not found\n", name.c_str());
    std::abort();
  }
  return reinterpret_cast<Fn>(f);
}

void Locked(void* mu, unsigned flags = 0) {
  __tsan_mutex_pre_lock(mu, flags);
  __tsan_mutex_post_lock(mu, flags, 0);
}

void Unlocked(void* mu, unsigned flags = 0) {
  __tsan_mutex_pre_unlock(mu, flags);
  __tsan_mutex_post_unlock(mu, flags);
}

// absl::Notification's data members (notification.h), to reach the flag.
struct NotificationLayout {
  absl::Mutex mutex;
  std::atomic<bool> notified_yet;
};
static_assert(sizeof(NotificationLayout) == sizeof(absl::Notification));

// The address of `n`'s flag. HasBeenNotified() is inline: in our code its
// acquire load of the flag is instrumented, and TSan pairs it with a release
// annotated at the same address.
void* NotifiedFlag(const absl::Notification* n) {
  return const_cast<char*>(reinterpret_cast<const char*>(n)) +
         offsetof(NotificationLayout, notified_yet);
}

// A Condition that evaluates `cond` as a critical section of `mu` in TSan's
// eyes (acquire before, release after). Abseil evaluates a LockWhen/Await
// condition inside the library call with `mu` held, where this file cannot
// annotate the lock (before blocking, and after waking up): without this the
// condition's reads of guarded state look unordered with the other
// threads' critical sections. In
// another thread's Unlock, where Abseil also evaluates waiters' conditions,
// TSan ignores memory accesses anyway (between pre_ and post_unlock).
class CriticalCondition {
 public:
  CriticalCondition(const absl::Condition& cond, absl::Mutex* mu) : cond_(cond), mu_(mu) {}
  absl::Condition condition() { return absl::Condition(&Eval, this); }

 private:
  static bool Eval(CriticalCondition* self) {
    __tsan_acquire(self->mu_);
    const bool result = self->cond_.Eval();
    __tsan_release(self->mu_);
    return result;
  }
  const absl::Condition& cond_;
  absl::Mutex* mu_;
};

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex4LockEv");
  __tsan_mutex_pre_lock(this, 0);
  real(this);
  __tsan_mutex_post_lock(this, 0, 0);
}

void Mutex::Unlock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex6UnlockEv");
  __tsan_mutex_pre_unlock(this, 0);
  real(this);
  __tsan_mutex_post_unlock(this, 0);
}

bool Mutex::TryLock() {
  static const auto real = Real<bool (*)(Mutex*)>("5Mutex7TryLockEv");
  __tsan_mutex_pre_lock(this, __tsan_mutex_try_lock);
  const bool locked = real(this);
  __tsan_mutex_post_lock(
      this, __tsan_mutex_try_lock | (locked ? 0 : __tsan_mutex_try_lock_failed), 0);
  return locked;
}

void Mutex::ReaderLock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex10ReaderLockEv");
  __tsan_mutex_pre_lock(this, __tsan_mutex_read_lock);
  real(this);
  __tsan_mutex_post_lock(this, __tsan_mutex_read_lock, 0);
}

void Mutex::ReaderUnlock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex12ReaderUnlockEv");
  __tsan_mutex_pre_unlock(this, __tsan_mutex_read_lock);
  real(this);
  __tsan_mutex_post_unlock(this, __tsan_mutex_read_lock);
}

bool Mutex::ReaderTryLock() {
  static const auto real = Real<bool (*)(Mutex*)>("5Mutex13ReaderTryLockEv");
  const unsigned flags = __tsan_mutex_read_lock | __tsan_mutex_try_lock;
  __tsan_mutex_pre_lock(this, flags);
  const bool locked = real(this);
  __tsan_mutex_post_lock(this, flags | (locked ? 0 : __tsan_mutex_try_lock_failed), 0);
  return locked;
}

void Mutex::LockWhen(const Condition& cond) {
  static const auto real =
      Real<void (*)(Mutex*, const Condition&)>("5Mutex8LockWhenERKNS0_9ConditionE");
  CriticalCondition critical(cond, this);
  real(this, critical.condition());
  Locked(this);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  static const auto real =
      Real<void (*)(Mutex*, const Condition&)>("5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  CriticalCondition critical(cond, this);
  real(this, critical.condition());
  Locked(this, __tsan_mutex_read_lock);
}

// The *WithTimeout calls go to their *WithDeadline twins here, as Abseil's
// own do: forwarding them to the library would annotate twice, since the
// library's definitions call the *WithDeadline entry points below.
bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  return LockWhenWithDeadline(cond, Now() + timeout);
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, Time)>(
      "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  CriticalCondition critical(cond, this);
  const bool r = real(this, critical.condition(), deadline);
  Locked(this);
  return r;
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, Duration timeout) {
  return ReaderLockWhenWithDeadline(cond, Now() + timeout);
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, Time)>(
      "5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  CriticalCondition critical(cond, this);
  const bool r = real(this, critical.condition(), deadline);
  Locked(this, __tsan_mutex_read_lock);
  return r;
}

// Await* release and take the lock again inside; other threads' critical
// sections may run in between.
void Mutex::Await(const Condition& cond) {
  static const auto real =
      Real<void (*)(Mutex*, const Condition&)>("5Mutex5AwaitERKNS0_9ConditionE");
  Unlocked(this);
  CriticalCondition critical(cond, this);
  real(this, critical.condition());
  Locked(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  return AwaitWithDeadline(cond, Now() + timeout);
}

bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, Time)>(
      "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  Unlocked(this);
  CriticalCondition critical(cond, this);
  const bool r = real(this, critical.condition(), deadline);
  Locked(this);
  return r;
}

void CondVar::Wait(Mutex* mu) {
  static const auto real = Real<void (*)(CondVar*, Mutex*)>("7CondVar4WaitEPNS0_5MutexE");
  Unlocked(mu);
  real(this, mu);
  Locked(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  return WaitWithDeadline(mu, Now() + timeout);
}

bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  static const auto real = Real<bool (*)(CondVar*, Mutex*, Time)>(
      "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  Unlocked(mu);
  const bool r = real(this, mu, deadline);
  Locked(mu);
  return r;
}

// Notify sets the flag with an uninstrumented atomic store, and a waiter that
// finds it already set returns without taking the mutex: annotate the flag
// as the release/acquire pair it is.
void Notification::Notify() {
  static const auto real = Real<void (*)(Notification*)>("12Notification6NotifyEv");
  __tsan_release(NotifiedFlag(this));
  real(this);
}

void Notification::WaitForNotification() const {
  static const auto real =
      Real<void (*)(const Notification*)>("12Notification19WaitForNotificationEv", true);
  real(this);
  __tsan_acquire(NotifiedFlag(this));
}

bool Notification::WaitForNotificationWithTimeout(Duration timeout) const {
  static const auto real = Real<bool (*)(const Notification*, Duration)>(
      "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE", true);
  const bool notified = real(this, timeout);
  if (notified) __tsan_acquire(NotifiedFlag(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(Time deadline) const {
  static const auto real = Real<bool (*)(const Notification*, Time)>(
      "12Notification31WaitForNotificationWithDeadlineENS0_4TimeE", true);
  const bool notified = real(this, deadline);
  if (notified) __tsan_acquire(NotifiedFlag(this));
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl
