package actors

// MaxQueueForTest is a queue bound larger than any test's queue.
const MaxQueueForTest = 1 << 20
