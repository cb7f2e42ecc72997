// FunctionRef<R(Args...)>: a non-owning reference to something callable, for parameters that are
// called during the call and not kept. Unlike std::function it never allocates (a lambda that
// captures more than two references makes std::function allocate) and costs one indirect call.
// The callable must outlive the FunctionRef: pass a lambda as an argument, do not store one.
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

namespace cairn {

template <typename Signature>
class FunctionRef;

template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  template <typename F,
            typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef> &&
                                        std::is_invocable_r_v<R, F&, Args...>>>
  FunctionRef(F&& f)  // NOLINT(google-explicit-constructor): stands in for a callable
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* object, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(object))(
              std::forward<Args>(args)...);
        }) {}

  R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

 private:
  void* object_;
  R (*call_)(void*, Args...);
};

}  // namespace cairn
