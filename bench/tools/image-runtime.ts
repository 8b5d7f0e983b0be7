// How the product's image runs Node (see the Dockerfile): the benchmarks run our own processes
// the same way, so that their memory figures are the ones a user sees in the pod.
//
// --initial-old-space-size=96: while the old generation is small, V8 sets its limit at about its
// size plus one young generation and starts marking as soon as the room left is no more than the
// young generation, which is at once: with a heap of a few dozen MiB it marked without a break
// (405 full collections in a 28 s ingest run, 9.7 s of CPU on V8's helper threads, whatever the
// semi-space size). A first limit of 96 MiB gives it room: 74 collections, that run 26 -> 18 s, and
// the worker's base backup about 1.5x faster. 64 MiB left twice as many collections; 128 MiB cost
// the worker 35 MiB more peak RSS.
// --max-semi-space-size=8: V8 sizes the young generation by the heap limit, up to 128 MiB on a
// large machine; 16 MiB semi-spaces saved about 80 MiB of RSS and 8 MiB another 15-30 MiB. (Before
// the flag above, 8 cost the main thread CPU: more promotion meant even more of that marking.)
// --heap-growing-percent=20: the old generation grows in 20% steps between full collections
// instead of up to 4x, so garbage from many accounts in flight is collected sooner (about 40 MiB
// on the throttled bench, CPU within noise). --optimize-for-size saved more but cost 35% CPU.
// MALLOC_ARENA_MAX=2: glibc gives every thread that allocates its own 64 MiB arena; the encoder
// thread and libuv's pool then keep freed memory each in their own, about 40 MiB more RSS.
export const IMAGE_NODE_FLAGS = ['--max-semi-space-size=8', '--heap-growing-percent=20', '--initial-old-space-size=96'];
export const IMAGE_ENV = { MALLOC_ARENA_MAX: '2' };

/** Extra node flags for the processes a benchmark runs, for profiling: BENCH_NODE_FLAGS='--cpu-prof --cpu-prof-dir=/tmp/prof'. */
export const BENCH_NODE_FLAGS = (process.env['BENCH_NODE_FLAGS'] ?? '').split(' ').filter(Boolean);
