"""Parameters of configs/seed_example_jump.toml and configs/seed_example_regime.toml.

A one-off computation, not part of the build: python3 scripts/jump_regime_parameters.py [DIR]
with DIR the Binance daily CSV files (default /work/shared/data/binance_daily). Prints
  - robust daily sigmas (1.4826 x MAD) of BTC, ETH, SOL daily log returns on common dates;
  - market-wide jump days (all three below -k robust sigmas) for k = 2.5, 3, 3.5, and for
    k = 3 the intensity, per-asset mean and vol of the log jump, and the diffusion vol that
    keeps the seed example's 365-day total variance;
  - regimes: stress days = 30-day trailing realised vol of the equal-weight basket in its top
    quartile; mean run lengths, switching intensities, per-regime vols and correlations;
    calm/stress vols matching the seed's long-run variance; stress correlations by Fisher z.
"""
import csv, math, datetime, statistics as st, sys, os
D=os.path.join(sys.argv[1] if len(sys.argv) > 1 else '/work/shared/data/binance_daily', '')
def load(sym):
    rows={}
    with open(D+f'Binance_{sym}USDT_d.csv') as f:
        next(f); r=csv.DictReader(f)
        for row in r: rows[datetime.date.fromisoformat(row['Date'][:10])]=float(row['Close'])
    return rows
syms=['BTC','ETH','SOL']
data={s:load(s) for s in syms}
common=sorted(set.intersection(*[set(d) for d in data.values()]))
rets=[]  # (date, [r...])
for a,b in zip(common,common[1:]):
    if (b-a).days!=1: continue
    rets.append((b,[math.log(data[s][b]/data[s][a]) for s in syms]))
print(len(rets), rets[0][0], rets[-1][0])
years=len(rets)/365
mad=[1.4826*st.median([abs(r[i]-st.median([x[i] for _,x in rets])) for _,r in rets]) for i in range(3)]
print('robust daily sigma', mad, 'annual', [m*math.sqrt(365) for m in mad])
for k in [2.5,3.0,3.5]:
    days=[(d,r) for d,r in rets if all(r[i] < -k*mad[i] for i in range(3))]
    print(k, len(days), len(days)/years)
    for d,r in days: print('  ',d,[round(x,3) for x in r])

print('---- jumps: threshold 3 robust sigmas on all three')
k=3.0
days=[(d,r) for d,r in rets if all(r[i] < -k*mad[i] for i in range(3))]
lam=len(days)/years
vol365={'BTC':0.4411,'ETH':0.7453,'SOL':0.7683}
for i,s in enumerate(syms):
    xs=[r[i] for _,r in days]
    m=st.mean(xs); v=st.variance(xs); sj=math.sqrt(max(v-mad[i]**2,0))
    kappa=math.exp(m+sj*sj/2)-1
    sd=math.sqrt(vol365[s]**2 - lam*(m*m+sj*sj))
    print(s, 'mean %.4f sd %.4f jump_vol %.4f kappa %.4f diffusion vol %.4f' % (m, math.sqrt(v), sj, kappa, sd))
print('lambda', lam, 'years', years)

print('---- regimes: 30-day trailing realised vol of the equal-weight basket, top quartile = stress')
basket=[sum(r)/3 for _,r in rets]
W=30
rv=[None]*len(rets)
for t in range(W-1,len(rets)):
    w=basket[t-W+1:t+1]; rv[t]=math.sqrt(sum(x*x for x in w)/W)
vals=sorted(x for x in rv if x is not None)
thr=vals[int(0.75*len(vals))]
lab=[None if x is None else (1 if x>thr else 0) for x in rv]
idx=[t for t in range(len(rets)) if lab[t] is not None]
share=sum(lab[t] for t in idx)/len(idx)
runs={0:[],1:[]}
cur=lab[idx[0]]; n=0
for t in idx:
    if lab[t]==cur: n+=1
    else: runs[cur].append(n); cur=lab[t]; n=1
runs[cur].append(n)
print('share', share, 'mean run calm days', st.mean(runs[0]), 'stress days', st.mean(runs[1]), 'runs', len(runs[0]), len(runs[1]))
print('intensity calm->stress /yr', 365/st.mean(runs[0]), 'stress->calm /yr', 365/st.mean(runs[1]))
def corr(x,y):
    mx,my=st.mean(x),st.mean(y)
    return sum((a-mx)*(b-my) for a,b in zip(x,y))/math.sqrt(sum((a-mx)**2 for a in x)*sum((b-my)**2 for b in y))
for g in (0,1):
    sel=[rets[t][1] for t in idx if lab[t]==g]
    vols=[st.stdev([r[i] for r in sel])*math.sqrt(365) for i in range(3)]
    cs=[corr([r[i] for r in sel],[r[j] for r in sel]) for i,j in ((0,1),(0,2),(1,2))]
    print('regime',g,'n',len(sel),'vols',[round(v,4) for v in vols],'corr BTC/ETH BTC/SOL ETH/SOL',[round(c,4) for c in cs])

print('---- idiosyncratic: one asset below -3 robust sigmas while not all three are (both tails: |r| > 3 sigma alone)')
mday=set(d for d,_ in days)
for i,s in enumerate(syms):
    xs=[r[i] for d,r in rets if d not in mday and abs(r[i])>3*mad[i] and sum(1 for j in range(3) if abs(r[j])>3*mad[j])==1]
    if len(xs)>1:
        m=st.mean(xs); v=st.variance(xs)
        print(s, len(xs), len(xs)/years, 'mean %.4f sd %.4f jumpvol %.4f'%(m, math.sqrt(v), math.sqrt(max(v-mad[i]**2,0))))
pi=6.7503/(6.7503+20.2778)
rs=[0.7978/0.4956,1.0784/0.6661,1.6021/0.9492]
for s,r in zip(syms,rs):
    c=vol365[s]/math.sqrt(1-pi+pi*r*r)
    print(s,'ratio %.3f calm %.4f stress %.4f'%(r,c,r*c))
def z(x): return math.atanh(x)
seed={'BTC/ETH':0.8444,'BTC/SOL':0.8337,'ETH/SOL':0.8754}
hist={'BTC/ETH':(0.7836,0.8464),'BTC/SOL':(0.5597,0.6305),'ETH/SOL':(0.6045,0.7189)}
for p in seed: print(p, '%.4f'%math.tanh(z(seed[p])+z(hist[p][1])-z(hist[p][0])))
