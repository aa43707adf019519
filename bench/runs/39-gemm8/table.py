import math,statistics
import os; B=os.path.dirname(os.path.abspath(__file__))+'/'
ws={}; dflt={}; peer={}; sl={}
for l in open(B+'bench.log'):
    f=l.strip().split(',')
    if l.startswith('CSV,ws,'):
        name=','.join(f[2:-5]); n,k,m=map(int,f[-5:-2]); ws[(name,n,k,m,f[-2])]=float(f[-1])
    if l.startswith('CSV,gemm,'):
        name=','.join(f[2:-8]); n,k,m=map(int,f[-8:-5]); dflt[(name,n,k,m)]=(float(f[-5]),f[-2]+('' if f[-1]=='1' else '/'+f[-1]))
    if l.startswith('CSV,sl8,'):
        name=','.join(f[2:-5]); n,k,m=map(int,f[-5:-2]); sl[(name,n,k,m,f[-2])]=float(f[-1])
for l in open(B+'gemm-table.txt'):
    if l.startswith('PEER,'):
        f=l.strip().split(','); name=','.join(f[1:-5]); n,k,m=map(int,f[-5:-2]); peer[(n,k,m)]=float(f[-2])
def tmaTiles(m,n,k):
    if m<=128: return 'tma128'
    if m<=512: return 'tma256' if n*k>4096*4096 else 'tma128'
    return 'tma256' if (n>=2048 or m>2048) else 'tma128'
def x3(m,n):
    if m>2048: return False
    tm=(m+255)//256
    return math.ceil(math.ceil(n/192)*tm/132)*1.42 < math.ceil(math.ceil(n/128)*tm/132)
print("| shape (N×K) | M | cuBLAS µs | default plan before µs (% cuBLAS) | TMA_128 / 7 stages µs | TMA_256 µs | TMA_256X3 µs | **after** µs (% cuBLAS) |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
bef=[];aft=[]
for (name,n,k,m),(d,tile) in dflt.items():
    c=peer[(n,k,m)]
    t=tmaTiles(m,n,k)
    a=d; at=tile
    if tile=='tma256' and x3(m,n): a=ws[(name,n,k,m,'tma256x3')]; at='tma256x3'
    if m<16384: bef.append(c/d); aft.append(c/a)
    g=lambda t: ws[(name,n,k,m,t)]
    print(f"| {name} {n}×{k} | {m} | {c:.1f} | {d:.1f} ({100*c/d:.0f}%, {tile}) | {g('tma128'):.1f} / {g('tma128s7'):.1f} | {g('tma256'):.1f} | {g('tma256x3'):.1f} | {'**' if a!=d else ''}{a:.1f} ({100*c/a:.0f}%{', '+at if a!=d else ''}){'**' if a!=d else ''} |")
print("median before %.1f%% after %.1f%%, n=%d; >=80%%: %d -> %d; min %.0f -> %.0f" % (100*statistics.median(bef),100*statistics.median(aft),len(bef),sum(b>=0.8 for b in bef),sum(b>=0.8 for b in aft),100*min(bef),100*min(aft)))
print()
print("| llama-7b weight | M | default | now (before) | reg128 | reg192 (work-item 0) | **reg192 (producer warpgroup)** | after: the plan's choice |")
for name,n,k in [("llama-7b q|k|v (stacked)",12288,4096),("llama-7b o_proj",4096,4096),("llama-7b down",4096,11008)]:
    for m in (104,128,256,512,2048):
        g=lambda f: sl[(name,n,k,m,f)]
        print(f"| {name} | {m} | {g('default'):.1f} | {g('now'):.1f} | {g('reg128'):.1f} | {g('reg192'):.1f} | {g('reg192p'):.1f} |")
