"""Rendezvous owner of a console, as configure_conman computes it
(src/configure/shard.c): the member with the highest FNV-1a-64 of
"member NUL console" through the splitmix64 finaliser; a tie goes to the
smaller name. For the scale-out benchmark and tests."""

M64 = (1 << 64) - 1


def _fnv1a(h, data):
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def weight(member, console):
    z = _fnv1a(_fnv1a(0xCBF29CE484222325, member.encode() + b"\0"), console.encode())
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def owner(members, console):
    return min(members, key=lambda m: (-weight(m, console), m))
