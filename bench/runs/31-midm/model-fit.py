#!/usr/bin/env python3
# Run 31-midm: the invariant plan's time model at 129-256 tokens with TMA_256 slabs, against the measured forms (gemm-arbor.txt);
# usage: python3 model-fit.py 1.3   (the TMA_256 slab tile factor; prints each point's pick, the measured best and the summed loss)
import math,collections,sys
SMs=132
def kt(k): return (k+63)//64
def slices(n,k):
    kT=kt(k); b1=(n+63)//64
    s=max(1,min(min(8,kT//4),(2*SMs+b1-1)//b1)); per=(kT+s-1)//s; return (kT+per-1)//per, per
def est(form,m,n,k,f256=2.0):
    s,per=slices(n,k)
    if form=='reg':
        blocks=math.ceil(n/128)*math.ceil(m/128); waves=math.ceil(blocks/SMs)
        return waves*(s*per*0.78+s*1.2)
    bm=128 if form=='slab128' else 256
    blocks=math.ceil(n/128)*math.ceil(m/bm)*s; waves=math.ceil(blocks/SMs)
    t=0.62*(1 if bm==128 else f256)
    return waves*per*t+(2*s+1)*4*m*n/2.2e6+3
d=collections.defaultdict(dict)
for l in open(__import__('os').path.join(__import__('os').path.dirname(__import__('os').path.abspath(__file__)), 'gemm-arbor.txt')):
    f=l.strip().split(',')
    if l.startswith('CSV,inv,'): n,k,m,us=int(f[-5]),int(f[-4]),int(f[-3]),float(f[-2]); d[(n,k,m)]['cur']=us
    elif l.startswith('CSV,midinv'): n,k,m,us,form=int(f[-6]),int(f[-5]),int(f[-4]),float(f[-3]),f[-2]; d[(n,k,m)][form]=us
for f256 in [float(x) for x in sys.argv[1:]]:
  print('f256',f256); loss=0
  for key,v in sorted(d.items()):
    n,k,m=key
    if m<=128 or 'reg' not in v: continue
    e={x:est(x,m,n,k,f256) for x in ('reg','slab128','slab256')}
    pick=min(e,key=e.get)
    meas={'reg':v['reg'],'slab128':v['slab-tma128'],'slab256':v['slab-tma256']}
    best=min(meas,key=meas.get); loss+=meas[pick]-meas[best]
    print(key, 'pick',pick, meas[pick], 'best',best, meas[best], 'cur',v['cur'], {x:round(y,1) for x,y in e.items()})
  print('loss',loss)
