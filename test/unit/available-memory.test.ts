import t from 'tap';
import { availableMemory, cgroupMemoryLimit, type ReadText } from '../../src/alarm/available-memory.js';

const GIB = 1024 ** 3;
/** What cgroup v1 writes when there is no limit (2^63 rounded down to a page on x86-64). */
const V1_NO_LIMIT = '9223372036854771712\n';

/** A file system made of the given files; any other path does not exist. */
function files(contents: Record<string, string>): ReadText {
  return (path) => contents[path];
}

t.test('cgroup v1: the limit of the memory controller line\'s cgroup', async (t) => {
  const read = files({
    '/proc/self/cgroup': '5:devices:/\n4:memory:/broker-test\n3:cpu,cpuacct:/\n0::/\n',
    '/sys/fs/cgroup/memory/broker-test/memory.limit_in_bytes': `${GIB}\n`,
    '/sys/fs/cgroup/memory/memory.limit_in_bytes': V1_NO_LIMIT,
  });
  t.same(cgroupMemoryLimit(read), { bytes: GIB, source: 'cgroup v1' });
});

t.test('cgroup v1: a comma-joined controller list counts', async (t) => {
  const read = files({
    '/proc/self/cgroup': '7:memory,hugetlb:/a\n',
    '/sys/fs/cgroup/memory/a/memory.limit_in_bytes': '536870912',
  });
  t.same(cgroupMemoryLimit(read), { bytes: 512 * 1024 ** 2, source: 'cgroup v1' });
});

t.test('cgroup v1: "no limit" is not a limit', async (t) => {
  const read = files({
    '/proc/self/cgroup': '4:memory:/unlimited\n',
    '/sys/fs/cgroup/memory/unlimited/memory.limit_in_bytes': V1_NO_LIMIT,
    '/sys/fs/cgroup/memory/memory.limit_in_bytes': V1_NO_LIMIT,
  });
  t.equal(cgroupMemoryLimit(read), undefined);
});

t.test('a parent cgroup\'s lower limit binds the process too', async (t) => {
  const read = files({
    '/proc/self/cgroup': '4:memory:/parent/child\n',
    '/sys/fs/cgroup/memory/parent/child/memory.limit_in_bytes': `${2 * GIB}`,
    '/sys/fs/cgroup/memory/parent/memory.limit_in_bytes': `${GIB}`,
    '/sys/fs/cgroup/memory/memory.limit_in_bytes': V1_NO_LIMIT,
  });
  t.same(cgroupMemoryLimit(read), { bytes: GIB, source: 'cgroup v1' });
});

t.test('a container that sees its own cgroup at the mount root: the host path is missing, the root file holds the limit', async (t) => {
  const read = files({
    '/proc/self/cgroup': '4:memory:/docker/0123abcd\n',
    '/sys/fs/cgroup/memory/memory.limit_in_bytes': `${GIB}`,
  });
  t.same(cgroupMemoryLimit(read), { bytes: GIB, source: 'cgroup v1' });
});

t.test('cgroup v2: memory.max of the unified line\'s cgroup; "max" is no limit', async (t) => {
  const limited = files({
    '/proc/self/cgroup': '0::/system.slice/broker.service\n',
    '/sys/fs/cgroup/system.slice/broker.service/memory.max': `${GIB}\n`,
    '/sys/fs/cgroup/system.slice/memory.max': 'max\n',
  });
  t.same(cgroupMemoryLimit(limited), { bytes: GIB, source: 'cgroup v2' });
  const unlimited = files({
    '/proc/self/cgroup': '0::/system.slice/broker.service\n',
    '/sys/fs/cgroup/system.slice/broker.service/memory.max': 'max\n',
  });
  t.equal(cgroupMemoryLimit(unlimited), undefined);
});

t.test('cgroup v2 in a cgroup namespace: the process is at "/" and the root holds the limit', async (t) => {
  const read = files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/memory.max': `${GIB}\n` });
  t.same(cgroupMemoryLimit(read), { bytes: GIB, source: 'cgroup v2' });
});

t.test('hybrid: the v1 memory controller wins over the v2 line', async (t) => {
  const read = files({
    '/proc/self/cgroup': '4:memory:/limited\n0::/\n',
    '/sys/fs/cgroup/memory/limited/memory.limit_in_bytes': `${GIB}`,
    '/sys/fs/cgroup/memory.max': `${2 * GIB}`,
  });
  t.same(cgroupMemoryLimit(read), { bytes: GIB, source: 'cgroup v1' });
});

t.test('no /proc/self/cgroup (not Linux): no limit', async (t) => {
  t.equal(cgroupMemoryLimit(files({})), undefined);
});

t.test('available memory is the smaller of RAM and the cgroup limit', async (t) => {
  const read = files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/memory.max': `${GIB}\n` });
  t.same(availableMemory(read, 8 * GIB), { bytes: GIB, source: 'cgroup v2' });
  t.same(availableMemory(read, GIB / 2), { bytes: GIB / 2, source: 'RAM' }, 'a limit above RAM does not raise it');
  t.same(availableMemory(files({}), 8 * GIB), { bytes: 8 * GIB, source: 'RAM' });
});
