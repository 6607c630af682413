// The part of Lambda's context the functions use. Both handlers take this, not Lambda's whole Context, so
// the local runner, the operations commands and the tests can each hand them their own.
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
}
