package dev.arbor.engine.core;

import dev.arbor.engine.EngineConfig;
import dev.arbor.engine.SamplingParams;
import dev.arbor.engine.cache.BlockPool;
import dev.arbor.engine.cache.EvictionPolicy;
import dev.arbor.engine.cache.PrefixCache;
import dev.arbor.tokenizer.ByteTokenizer;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Scheduler cost per step with a long queue (a benchmark, not a timed test; issue 13, fault 7):
 * 10,000 waiting requests of 2,000 tokens (each generating 16 to 256) in front of a KV pool of
 * 4,096 blocks of 16: the batch runs as full as memory allows, finished requests make room, the
 * head of the queue is admitted when it fits. Prints the median and p90 of µs per step for
 * {@code schedule + afterForward} (no model): FCFS, LPM (over its FCFS threshold) and a queue whose
 * prompts share 1,984 tokens (so most of it waits, each step, for a shared prefill to be cached).
 * Goal: under 200 µs, a GPU decode step being ~3 ms.
 *
 * <p>Run: {@code java -cp <engine test classpath> dev.arbor.engine.core.SchedulerBench [waiting] [promptLen]}.
 */
public final class SchedulerBench {
    public static void main(String[] args) {
        int waiting = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
        int promptLen = args.length > 1 ? Integer.parseInt(args[1]) : 2_000;
        for (String scenario : List.of("fcfs", "lpm", "shared-prefix")) run(scenario, waiting, promptLen);
    }

    static void run(String scenario, int numWaiting, int promptLen) {
        int bs = 16, blocks = 4096;
        boolean shared = scenario.equals("shared-prefix");
        EngineConfig config = EngineConfig.builder().blockSize(bs).numBlocks(blocks).maxNumSeqs(256)
                .maxNumBatchedTokens(512).schedulingPolicy(scenario.equals("fcfs") ? "fcfs" : "lpm").build();
        BlockPool pool = new BlockPool(blocks);
        PrefixCache cache = new PrefixCache(pool, bs, EvictionPolicy.LRU);
        Scheduler scheduler = new Scheduler(config, new KvCacheManager(pool, cache, bs));
        ByteTokenizer tok = new ByteTokenizer();
        SplittableRandom rnd = new SplittableRandom(1);
        int[] sharedPrefix = randomTokens(rnd, promptLen);
        for (int i = 0; i < numWaiting; i++) {
            int[] p = shared ? sharedPrefix.clone() : randomTokens(rnd, promptLen);
            for (int j = promptLen - 16; j < promptLen; j++) p[j] = rnd.nextInt(250);
            SamplingParams params = SamplingParams.builder().temperature(0).maxTokens(16 + rnd.nextInt(241)).ignoreEos(true).build();
            add(scheduler, i, p, params, tok);
        }
        int warmup = 100, steps = 300;
        long[] nanos = new long[steps];
        long running = 0;
        for (int s = 0; s < warmup + steps; s++) {
            long t0 = System.nanoTime();
            SchedulerOutput out = scheduler.schedule();
            scheduler.afterForward(out);
            long t1 = System.nanoTime();
            for (ScheduledSeq c : out.scheduled()) {
                if (!c.sample()) continue;
                Sequence seq = c.seq();
                seq.tokens.add(7);
                if (seq.numOutputTokens() >= seq.params().maxTokens()) scheduler.finish(seq);
            }
            if (s >= warmup) {
                nanos[s - warmup] = t1 - t0;
                running += scheduler.numRunning();
            }
        }
        Arrays.sort(nanos);
        System.out.printf("%-14s %,d waiting x %,d tokens: %7.1f us/step median, %7.1f p90 (goal < 200); %d running on average, %,d still waiting%n",
                scenario, numWaiting, promptLen, nanos[steps / 2] / 1e3, nanos[steps * 9 / 10] / 1e3, running / steps, scheduler.numWaiting());
    }

    private static void add(Scheduler scheduler, long id, int[] prompt, SamplingParams params, ByteTokenizer tok) {
        RequestState r = new RequestState("r" + id, null, prompt, params, null, 0, tok);
        Sequence seq = new Sequence(id, r, 0, prompt, id);
        r.seqs.add(seq);
        scheduler.add(seq);
    }

    private static int[] randomTokens(SplittableRandom rnd, int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = rnd.nextInt(250);
        return t;
    }
}
