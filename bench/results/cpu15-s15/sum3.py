import re, json, statistics, sys
log = open('/tmp/cpu15/tables3.log').read()
parts = re.split(r'^=== ', log, flags=re.M)[1:]
data = {'false': [], 'true': []}
for p in parts:
    m = re.match(r'pair (\d+) panelActivationsOnce=(\w+) (\S+) load average: ([0-9.]+)', p)
    if not m: continue
    v = m.group(2)
    d = {'time': m.group(3), 'load': m.group(4)}
    def f(pat, key):
        mm = re.search(pat, p, re.M)
        if mm: d[key] = float(mm.group(1))
    f(r'arbor b1 run 1: prefill: .*= ([0-9.]+) tokens/s', 'a_pp')
    f(r'arbor b1 run 1: decode: .*= ([0-9.]+) tokens/s', 'a_tg1')
    f(r'arbor b8 run 1: decode: .*= ([0-9.]+) tokens/s', 'a_tg8')
    f(r'arbor b8 run 1: prefill: .*= ([0-9.]+) tokens/s', 'a_pp8')
    f(r'arbor shared run 1: .*"totalSeconds":([0-9.]+)', 'a_sh')
    for line in p.splitlines():
        if line.startswith('llama.cpp run 1: '):
            j = json.loads(line[len('llama.cpp run 1: '):])
            if j['pl'] == 1: d['l_pp'] = j['speed_pp']; d['l_tg1'] = j['speed_tg']
            if j['pl'] == 8: d['l_tg8'] = j['speed_tg']
        if line.startswith('llama.cpp shared run 1: '):
            d['l_sh'] = json.loads(line[len('llama.cpp shared run 1: '):])['t']
    lm = re.search(r'load average \(1 min\) before each run: (.*)', p)
    if lm: d['loads'] = lm.group(1)
    data[v].append(d)
for v in data:
    for d in data[v]: print(v, d)
def med(v, k):
    xs = [d[k] for d in data[v] if k in d]
    return (statistics.median(xs), xs) if xs else (float('nan'), [])
for k, lk, name in [('a_pp','l_pp','prefill 1x512'),('a_tg1','l_tg1','decode b1'),('a_tg8','l_tg8','decode b8'),('a_sh','l_sh','shared (s)')]:
    for v in ['false','true']:
        a, ax = med(v, k); l, lx = med(v, lk)
        r = (l/a) if k=='a_sh' else (a/l)
        print(f"{name} once={v}: arbor {a:.2f} {ax} llama {l:.2f} {lx} ratio {r:.2f}")
