// How the product's image runs Node (see the Dockerfile): the benchmarks run our own processes
// the same way, so that their memory figures are the ones a user sees in the pod.
//
// --max-semi-space-size=16: V8 sizes the young generation by the heap limit, up to 128 MiB on a
// large machine; 16 MiB semi-spaces cost no measurable throughput and save about 80 MiB of RSS
// (8 MiB saved another 15-30 MiB but cost the main thread about 2 s of CPU per 30,000 items).
// --heap-growing-percent=20: the old generation grows in 20% steps between full collections
// instead of up to 4x, so garbage from many accounts in flight is collected sooner (about 40 MiB
// on the throttled bench, CPU within noise). --optimize-for-size saved more but cost 35% CPU.
// MALLOC_ARENA_MAX=2: glibc gives every thread that allocates its own 64 MiB arena; the encoder
// thread and libuv's pool then keep freed memory each in their own, about 40 MiB more RSS.
export const IMAGE_NODE_FLAGS = ['--max-semi-space-size=16', '--heap-growing-percent=20'];
export const IMAGE_ENV = { MALLOC_ARENA_MAX: '2' };
