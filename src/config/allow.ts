import { BlockList, isIPv4, isIPv6 } from 'node:net';

/**
 * web.allow: staff networks as address/prefix. Checked at load (each entry's problem named)
 * and made into the list the live view checks every connection's address against. An empty
 * list means this box only.
 */
export function allowProblems(cidrs: readonly string[]): { index: number; message: string }[] {
  const problems: { index: number; message: string }[] = [];
  cidrs.forEach((cidr, index) => {
    const [address = '', prefix = ''] = cidr.split('/');
    const type = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
    const bits = Number(prefix);
    if (!type || prefix === '' || !Number.isInteger(bits) || bits < 0 || bits > (type === 'ipv4' ? 32 : 128)) {
      problems.push({ index, message: `${cidr} is not an address/prefix (such as 10.0.0.0/24 or fd00:1::/64)` });
      return;
    }
    if (type === 'ipv6') {
      // Node matches IPv4 addresses inside IPv6 ranges as ::ffff:a.b.c.d: ::/0 would admit all of them.
      const probe = new BlockList();
      probe.addSubnet(address, bits, 'ipv6');
      if (probe.check('::ffff:0.0.0.0', 'ipv6') || probe.check('::ffff:255.255.255.255', 'ipv6')) {
        problems.push({ index, message: `${cidr} covers every IPv4 address (as ::ffff:a.b.c.d): list the staff's IPv4 networks themselves` });
      }
    }
  });
  return problems;
}

export function allowList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs.length > 0 ? cidrs : ['127.0.0.0/8', '::1/128']) {
    const [address = '', prefix = ''] = cidr.split('/');
    list.addSubnet(address, Number(prefix), isIPv4(address) ? 'ipv4' : 'ipv6');
  }
  return list;
}
