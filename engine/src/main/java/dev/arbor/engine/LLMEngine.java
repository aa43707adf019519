package dev.arbor.engine;

import dev.arbor.engine.cache.BlockPool;
import dev.arbor.engine.cache.EvictionPolicy;
import dev.arbor.engine.cache.PrefixCache;
import dev.arbor.engine.cache.PrefixInfo;
import dev.arbor.engine.core.KvCacheManager;
import dev.arbor.engine.core.ModelRunner;
import dev.arbor.engine.core.RequestState;
import dev.arbor.engine.core.Logprobs;
import dev.arbor.engine.core.Scheduler;
import dev.arbor.engine.core.SchedulerOutput;
import dev.arbor.engine.core.StepProcessor;
import dev.arbor.models.CausalLM;
import dev.arbor.models.ModelConfig;
import dev.arbor.models.ModelLoader;
import dev.arbor.models.StepShape;
import dev.arbor.tokenizer.ByteTokenizer;
import dev.arbor.tokenizer.Tokenizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * The synchronous engine: requests in, one step at a time, outputs out. Not thread-safe; the
 * offline {@link LLM} drives it from the caller's thread, the online {@link AsyncEngine} from its
 * own loop thread.
 *
 * <pre>
 * SchedulerOutput out = scheduler.schedule();     // which sequences, how many new tokens, block tables
 * StepResult result    = runner.execute(out, () -> produce(previous));   // the only place that builds model inputs;
 *                                                   // the previous step's outputs are made while the device runs
 * changed = processor.update(out, result);         // append, finish, free; outputs(changed) streams them next step
 * </pre>
 *
 * <p>With asynchronous scheduling ({@link #ASYNC_SCHEDULING}, CUDA's default) a step whose ids may wait stays on the device:
 * <pre>
 * runner.launch(out);                               // its placeholders (the previous step's ids) fed on the device
 * processor.reconcile(prev, runner.collectDeferred());   // the previous step's ids: append, finish, free (a step late)
 * runner.sample(true); processor.advance(out); processor.deferSampled(out, rows);   // ids left on the device
 * </pre>
 */
public final class LLMEngine implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LLMEngine.class);
    private final CausalLM model;
    private final boolean ownsModel;   // created by create(): closed with the engine
    private final Tokenizer tokenizer;
    private final EngineConfig config;
    private final int maxModelLen;
    private final BlockPool pool;
    private final PrefixCache prefixCache;
    private final Scheduler scheduler;
    private final ModelRunner runner;
    private final StepTimings timings = new StepTimings();
    private int peakBlocksUsed;
    private final StepProcessor processor;
    private final Map<String, RequestState> requests = new LinkedHashMap<>();
    private final AtomicLong autoIds = new AtomicLong();
    private final List<RequestOutput> deferred = new ArrayList<>();   // produced while registering a prefix
    private List<RequestState> changed = List.of();   // requests the last step changed: their outputs come with the next step
    /**
     * Asynchronous scheduling (issue 12): a decode step's sampled ids stay on the device while the next step is scheduled,
     * built and launched (its placeholders fed from the sampler's output there); the ids are read, and the stop checks run,
     * one step late. {@code -Darbor.engine.asyncScheduling}: on by default where the forward pass returns before the device
     * finishes (CUDA), off on the CPU; {@code true} forces it on the CPU too (tests: same outputs as the synchronous engine).
     */
    static final String ASYNC_SCHEDULING = "arbor.engine.asyncScheduling";
    private final boolean asyncScheduling;
    private long deferredSteps;

    /**
     * An engine over {@code model}, which the caller keeps owning: {@link #close()} frees this engine's
     * KV store and workspace, not the model (several engines may run one model in turn).
     */
    public LLMEngine(CausalLM model, Tokenizer tokenizer, EngineConfig config) {
        this(model, tokenizer, config, false);
    }

    private LLMEngine(CausalLM model, Tokenizer tokenizer, EngineConfig config, boolean ownsModel) {
        this.ownsModel = ownsModel;
        this.model = model;
        this.tokenizer = tokenizer;
        // max_num_batched_tokens 0: the backend's (1,024 on the CPU, 8,192 on CUDA)
        if (config.maxNumBatchedTokens() == 0) config = config.toBuilder().maxNumBatchedTokens(model.defaultMaxNumBatchedTokens()).build();
        this.config = config;
        ModelConfig mc = model.config();
        this.maxModelLen = config.maxModelLen() > 0 ? config.maxModelLen() : mc.maxPositionEmbeddings();
        long kvBudget = config.kvCacheBytes() > 0 ? config.kvCacheBytes() : defaultBudget(model, config, maxModelLen);
        int numBlocks = numBlocks(model, config, kvBudget);
        this.pool = new BlockPool(numBlocks);
        this.prefixCache = config.enablePrefixCaching()
                ? new PrefixCache(pool, config.blockSize(), EvictionPolicy.byName(config.evictionPolicy())) : null;
        if (prefixCache != null && config.maxCachedUnusedBlocks() > 0) prefixCache.setMaxCachedUnusedBlocks(config.maxCachedUnusedBlocks());
        KvCacheManager kv = new KvCacheManager(pool, prefixCache, config.blockSize());
        this.scheduler = new Scheduler(config, kv);
        int blocksPerSeq = (maxModelLen + config.blockSize() - 1) / config.blockSize();
        StepShape shape = new StepShape(numBlocks, config.blockSize(), config.maxNumBatchedTokens(), config.maxNumSeqs(),
                blocksPerSeq, Math.min(config.maxNumBatchedTokens(), Math.max(config.maxNumSeqs(), 64)));
        // NOTE: maxLogitRows >= min(maxTokens, maxSeqs): every sampled row of a step fits the first lm_head pass.
        int[] eos = mc.eosTokenIds().length > 0 ? mc.eosTokenIds() : tokenizer.eosTokenIds();
        Logprobs logprobs = new Logprobs(id -> tokenizer.decode(new int[] {id}, false));
        // allocating (and zeroing) the KV pool takes seconds for GiBs: say so, so the wait is not silent
        log.info("allocating the KV pool ({} blocks, {} MiB) and the step workspace on {} ...",
                numBlocks, numBlocks * model.kvBytesPerBlock(config.blockSize()) >> 20, model.device());
        this.runner = new ModelRunner(model.open(shape), mc.vocabSize(), eos, logprobs);
        this.processor = new StepProcessor(scheduler, logprobs, eos, maxModelLen);
        String async = System.getProperty(ASYNC_SCHEDULING);
        this.asyncScheduling = async == null ? runner.executor().forwardReturnsEarly() : Boolean.parseBoolean(async);
        log.info("engine: model {} ({} layers, vocab {}) on {}, KV pool {} blocks x {} tokens ({} MiB, {}), prefix caching {}, max_model_len {}, "
                        + "max_num_batched_tokens {}",
                mc.architecture(), mc.numLayers(), mc.vocabSize(), model.device(), numBlocks, config.blockSize(),
                numBlocks * model.kvBytesPerBlock(config.blockSize()) >> 20,
                config.numBlocksOverride() > 0 ? "set by block count" : config.kvCacheBytes() > 0 ? "--kv-cache-bytes" : "the backend's default budget",
                config.enablePrefixCaching() ? "on" : "off", maxModelLen, config.maxNumBatchedTokens());
    }

    /** Loads {@code spec} (a Hugging Face model directory or {@code synthetic:SHAPE}) with its tokenizer. */
    /**
     * Loads {@code spec} to run as {@code config.backend()} says (device {@code cpu | cuda | cuda:N | auto}) with its tokenizer.
     *
     * @throws IllegalArgumentException for a malformed device or KV dtype, or a KV store that does not fit
     * @throws IllegalStateException    when the JVM was started without {@code --add-modules jdk.incubator.vector}
     */
    public static LLMEngine create(String spec, EngineConfig config) {
        JvmFlags.require();
        CausalLM model = ModelLoader.load(spec, config.backend());
        try {
            model.materialize();
            return new LLMEngine(model, tokenizerFor(model.config()), config, true);
        } catch (RuntimeException | Error e) {
            model.close();
            throw e;
        }
    }

    /** The model directory's tokenizer, or the byte tokenizer for a synthetic model (no files). */
    public static Tokenizer tokenizerFor(ModelConfig mc) {
        return mc.modelDir() != null ? Tokenizer.load(mc.modelDir()) : new ByteTokenizer(mc.vocabSize());
    }

    /**
     * The backend's default KV budget, stopped at four times what {@code max_num_seqs} sequences of
     * {@code max_model_len} tokens hold at once: a small model on a large memory would otherwise get a pool it
     * can never fill (on the CPU allocated and zeroed at start: 2 GiB for synthetic:tiny took 8 s). Four times
     * leaves the prefix cache room to keep finished prefixes.
     */
    private static long defaultBudget(CausalLM model, EngineConfig c, int maxModelLen) {
        long blocksPerSeq = (maxModelLen + c.blockSize() - 1) / c.blockSize();
        long need = 4L * c.maxNumSeqs() * blocksPerSeq * model.kvBytesPerBlock(c.blockSize());
        return Math.min(model.defaultKvBudgetBytes(c.gpuMemoryUtilization()), need);
    }

    private static int numBlocks(CausalLM model, EngineConfig c, long budget) {
        if (c.numBlocksOverride() > 0) return c.numBlocksOverride();
        long perBlock = model.kvBytesPerBlock(c.blockSize());
        long n = budget / perBlock;
        if (n < 1) throw new IllegalArgumentException("KV budget of " + budget + " bytes holds no block of " + perBlock + " bytes");
        return (int) Math.min(n, Integer.MAX_VALUE / 2);
    }

    public Tokenizer tokenizer() { return tokenizer; }

    public ModelConfig modelConfig() { return model.config(); }

    public EngineConfig config() { return config; }

    public int maxModelLen() { return maxModelLen; }

    public String nextRequestId() { return "req-" + autoIds.incrementAndGet(); }

    /**
     * Queues a request. Invalid input is rejected here, with an {@link IllegalArgumentException}
     * that names what was wrong, before anything is allocated.
     *
     * @param salt      cache namespace (null = shared default); tenants with different salts share no blocks
     * @param prefixPos the first prefixPos prompt tokens are a prefix to pin in the cache (0 = none)
     */
    public RequestState addRequest(String requestId, Prompt prompt, SamplingParams params, String salt, int prefixPos) {
        if (requests.containsKey(requestId)) throw new IllegalArgumentException("duplicate request id '" + requestId + "'");
        params.validate(model.config().vocabSize());
        int[] ids = prompt.isText() ? tokenizer.encode(prompt.text()) : prompt.tokenIds();
        checkPrompt(ids);
        if (prefixPos < 0 || prefixPos > ids.length) throw new IllegalArgumentException("prefix_pos " + prefixPos + " is outside the prompt of " + ids.length + " tokens");
        RequestState r = processor.newRequest(requestId, prompt.text(), ids, params, salt, prefixPos, tokenizer);
        requests.put(requestId, r);
        return r;
    }

    public RequestState addRequest(Prompt prompt, SamplingParams params) {
        return addRequest(nextRequestId(), prompt, params, null, 0);
    }

    private void checkPrompt(int[] ids) {
        if (ids.length == 0) throw new IllegalArgumentException("prompt is empty");
        int vocab = model.config().vocabSize();
        for (int t : ids) if (t < 0 || t >= vocab) throw new IllegalArgumentException("prompt token id " + t + " is outside the vocabulary [0, " + vocab + ")");
        if (ids.length >= maxModelLen) {
            throw new IllegalArgumentException("prompt has " + ids.length + " tokens; the context length is " + maxModelLen
                    + " (prompt plus at least one generated token must fit)");
        }
        int need = (ids.length + 1 + config.blockSize() - 1) / config.blockSize();
        if (need > pool.numTotal()) {
            throw new IllegalArgumentException("prompt needs " + need + " KV blocks but the pool has only " + pool.numTotal());
        }
    }

    /**
     * Runs one step; returns the outputs of the requests whose state changed (finished ones leave the engine).
     * NOTE (issue 12, host overlap): on a backend whose forward pass returns before the device finishes (CUDA), a step's
     * outputs (detokenizing, stop-string text, the callers' snapshots) are made while the device runs the next step, so
     * each call returns the previous step's, and a call that finds nothing to schedule returns the last ones; on the CPU
     * (nothing to overlap) each call returns its own. Without asynchronous scheduling finishing is never late: the step that
     * samples a sequence's last token frees its blocks. With it, a step's ids are applied by the next call, after that call has
     * launched the next step (a sequence that ended drops the token that step samples for it; its blocks are freed then); the
     * outputs are the same, in the same order, either way. {@link #step(Consumer)}
     * hands them over as soon as they are made, before the step waits for the device.
     */
    public List<RequestOutput> step() {
        List<RequestOutput> outputs = new ArrayList<>();
        step(outputs::add);
        return outputs;
    }

    /**
     * Runs one step as {@link #step()} does, giving each output to {@code sink} as soon as it is made: the previous step's
     * while the device runs this one (so a stream's first token is not held back by a whole step). A sink that throws
     * still gets the step's other outputs, and the step completes; the first exception is rethrown after it.
     */
    public void step(Consumer<RequestOutput> sink) {
        Sink out = new Sink(sink);
        for (RequestOutput o : deferred) out.accept(o);
        deferred.clear();
        long t0 = System.nanoTime();
        SchedulerOutput work = scheduler.schedule();
        if (work.isEmpty() && runner.hasDeferred()) {
            // nothing to launch behind the deferred step (its sequences preempted, or finished): read its ids now; the next
            // call schedules again with them
            settle();
            produce(out);
            out.rethrow();
            return;
        }
        if (work.isEmpty()) {
            produce(out);
            if (scheduler.hasUnfinished()) out.accept(failUnschedulable());
            out.rethrow();
            return;
        }
        long t1 = System.nanoTime();
        peakBlocksUsed = Math.max(peakBlocksUsed, pool.numTotal() - pool.numFree());   // this step's blocks are allocated now
        long replays = runner.executor().graphReplays();
        if (asyncScheduling) {
            stepAsync(work, out, t0, t1, replays);
            return;
        }
        ModelRunner.StepResult result = runner.execute(work, () -> produce(out));
        long t2 = System.nanoTime();
        changed = processor.update(work, result);
        // no device to overlap (the CPU's forward pass ran on this thread): this step's outputs now, as the sequential engine did
        if (!runner.executor().forwardReturnsEarly()) produce(out);
        long t3 = System.nanoTime();
        timings.add(runner.lastWasDecode(), runner.executor().graphReplays() > replays, runner.lastTokens(), t1 - t0, runner.lastInputsNanos(), runner.executor().lastUploadMillis(),
                runner.lastForwardNanos(), runner.lastOverlapNanos(), runner.lastWaitNanos(), t3 - t2, runner.executor().lastDeviceMillis());
        timings.gap(runner.lastWasDecode(), runner.executor().graphReplays() > replays, runner.executor().lastGapMillis());
        out.rethrow();
    }

    /**
     * One step with asynchronous scheduling: launch this step (its placeholders fed on the device from the deferred step's
     * samples), then read the deferred step's ids and apply them ({@link StepProcessor#reconcile}: stop checks, finishing,
     * freeing; a sequence that ended there drops this step's token), then sample this step, deferred again where
     * {@link StepProcessor#canDefer} allows, else waiting as the synchronous step does; the outputs are made while the device runs.
     */
    private void stepAsync(SchedulerOutput work, Sink out, long t0, long t1, long replays) {
        runner.launch(work);
        long t2 = System.nanoTime();
        long collect = settle();   // the wait for the deferred step's ids is booked to that step (its own device time)
        long t3 = System.nanoTime();
        // NOTE: phases as StepTimings names them; the reconcile counts as this step's outputs
        if (processor.canDefer(work)) {
            deferredSteps++;
            runner.sample(true);
            long ts = System.nanoTime();
            produce(out);   // before advancing: a sink sees the engine as the synchronous one shows it then
            long tp = System.nanoTime();
            processor.advance(work);
            processor.deferSampled(work, runner.deferredRows());
            long t4 = System.nanoTime();
            // added when its ids are collected, with its own device time (the events are read then)
            deferredTiming = new DeferredTiming(runner.lastWasDecode(), runner.executor().graphReplays() > replays, runner.lastTokens(), t1 - t0,
                    runner.lastInputsNanos(), runner.executor().lastUploadMillis(), runner.lastForwardNanos(), (t3 - t2 - collect) + (tp - ts),
                    ts - t3, t4 - tp);
        } else {
            produce(out);
            long tp = System.nanoTime();
            ModelRunner.StepResult result = runner.sample(false);
            long ts = System.nanoTime();
            changed = processor.update(work, result);
            long t4 = System.nanoTime();
            timings.add(runner.lastWasDecode(), runner.executor().graphReplays() > replays, runner.lastTokens(), t1 - t0, runner.lastInputsNanos(),
                    runner.executor().lastUploadMillis(), runner.lastForwardNanos(), (t3 - t2 - collect) + (tp - t3), ts - tp, t4 - ts,
                    runner.executor().lastDeviceMillis());
            timings.gap(runner.lastWasDecode(), runner.executor().graphReplays() > replays, runner.executor().lastGapMillis());
        }
        out.rethrow();
    }

    /** The host phases of the call that launched the deferred step; its device time is known once its ids are collected. */
    private record DeferredTiming(boolean decode, boolean replayed, int tokens, long scheduleNs, long inputsNs, double uploadMs, long forwardNs,
                                  long outputsNs, long waitNs, long updateNs) {}

    private DeferredTiming deferredTiming;

    /**
     * Reads the deferred step's ids, if a step is deferred, and applies them; the requests they change join {@link #changed}.
     * Returns the nanoseconds spent waiting for those ids (0 when no step was deferred), which are booked to the deferred
     * step's own timings: a prefill step followed by a decode step is waited for in the decode step's call, and its wait
     * belongs with its device time, not the decode step's.
     */
    private long settle() {
        if (!runner.hasDeferred()) return 0;
        SchedulerOutput prev = runner.deferredStep();
        ModelRunner.StepResult ids = runner.collectDeferred();
        long collect = runner.lastCollectNanos();
        DeferredTiming d = deferredTiming;
        if (d != null) {
            timings.add(d.decode(), d.replayed(), d.tokens(), d.scheduleNs(), d.inputsNs(), d.uploadMs(), d.forwardNs(), d.outputsNs(),
                    d.waitNs() + collect, d.updateNs(), runner.executor().lastDeviceMillis());
            timings.gap(d.decode(), d.replayed(), runner.executor().lastGapMillis());
            deferredTiming = null;
        }
        List<RequestState> c = processor.reconcile(prev, ids);
        if (changed.isEmpty()) changed = c;
        else if (!c.isEmpty()) {
            List<RequestState> all = new ArrayList<>(changed);
            for (RequestState r : c) if (!all.contains(r)) all.add(r);
            changed = all;
        }
        return collect;
    }

    /** Gives the outputs of the requests the last step changed ({@link #changed}) to {@code out}; finished ones leave. */
    private void produce(Sink out) {
        if (changed.isEmpty()) return;
        List<RequestOutput> produced = processor.outputs(changed);
        changed = List.of();
        for (RequestOutput o : produced) if (o.finished()) requests.remove(o.requestId());
        for (RequestOutput o : produced) out.accept(o);
    }

    /** A caller's sink that keeps the first exception it throws for after the step, so the engine's state stays whole. */
    private static final class Sink {
        private final Consumer<RequestOutput> sink;
        private RuntimeException failure;

        Sink(Consumer<RequestOutput> sink) { this.sink = sink; }

        void accept(RequestOutput o) {
            try {
                sink.accept(o);
            } catch (RuntimeException e) {
                if (failure == null) failure = e;
                else failure.addSuppressed(e);
            }
        }

        void rethrow() {
            if (failure != null) throw failure;
        }
    }

    /**
     * Nothing runs and the request first in line does not fit: every block that is not free is pinned
     * by explicit prefixes (checkPrompt guarantees it would fit an unpinned pool). It fails alone with
     * a message that says so; the requests behind it stay queued and run.
     */
    private RequestOutput failUnschedulable() {
        String id = scheduler.headOfLineRequestId();
        RequestState r = id == null ? null : requests.remove(id);
        if (r == null || prefixCache == null) throw new IllegalStateException("scheduler made no progress: " + scheduler.all());
        RequestOutput aborted = processor.abort(r);
        int need = (aborted.promptTokenIds().length + 1 + config.blockSize() - 1) / config.blockSize();
        return RequestOutput.failed(id, aborted.prompt(), aborted.promptTokenIds(), "the request needs up to " + need
                + " KV blocks, but only " + pool.numFree() + " of the pool's " + pool.numTotal() + " are free and "
                + prefixCache.stats().pinnedBlocks() + " are pinned by explicit prefixes: delete one (deletePrefix, "
                + "DELETE /v1/prefixes/{id}) or give the engine more KV blocks");
    }

    /** Work remains: queued or running sequences, or outputs not yet returned by {@link #step}. */
    public boolean hasUnfinished() {
        return scheduler.hasUnfinished() || !deferred.isEmpty() || !changed.isEmpty() || runner.hasDeferred();
    }

    /**
     * Cancels a request; its blocks are released at once. Returns its final output (with what the last step added, which
     * {@link #step} then does not return again), or null if unknown.
     */
    public RequestOutput abort(String requestId) {
        RequestState r = requests.remove(requestId);
        if (r == null) return null;
        settle();   // asynchronous scheduling: the last step's ids first, so the final output holds what the synchronous engine's does
        if (changed.contains(r)) {
            changed = new ArrayList<>(changed);
            changed.remove(r);
        }
        return processor.abort(r);
    }

    // ---- explicit prefixes (pinned in the trie) ----

    /**
     * Computes (if not cached) and pins the KV of {@code prefix}: it stays cached until deleted.
     * Only whole blocks are cached, so a prefix of 530 tokens with block size 16 pins 528.
     */
    public PrefixInfo registerPrefix(Prompt prefix, String salt) {
        return registerPrefix(prefix, salt, 0);
    }

    /**
     * As {@link #registerPrefix(Prompt, String)}, with a priority for the {@code priority} eviction
     * policy (lower is evicted first once the prefix is deleted or unpinned).
     */
    public PrefixInfo registerPrefix(Prompt prefix, String salt, int priority) {
        PrefixRequest pr = startPrefix(prefix, salt, priority);
        // Other requests advance too; their outputs are kept for the caller's next step().
        RequestOutput own = null;
        while (requests.containsKey(pr.requestId())) {
            for (RequestOutput o : step()) {
                if (o.requestId().equals(pr.requestId())) own = o;
                else deferred.add(o);
            }
        }
        return finishPrefix(pr, own);
    }

    /** A prefix being computed by an ordinary request ({@link #startPrefix}); {@link #finishPrefix} pins it. */
    public record PrefixRequest(String requestId, int[] tokenIds, String salt, int priority) {}

    /**
     * Queues the computation of a prefix as an ordinary request in the batch (one token sampled and
     * discarded; its full blocks enter the trie and are pinned as it finishes), so no other request
     * waits for it. Validates like {@link #registerPrefix}. Call {@link #finishPrefix} with its last output.
     */
    public PrefixRequest startPrefix(Prompt prefix, String salt, int priority) {
        requirePrefixCache();
        int[] ids = prefix.isText() ? tokenizer.encode(prefix.text()) : prefix.tokenIds();
        checkPrompt(ids);
        if (ids.length < config.blockSize()) {
            throw new IllegalArgumentException("prefix has " + ids.length + " tokens, shorter than one KV block (" + config.blockSize() + ")");
        }
        String id = "prefix-" + autoIds.incrementAndGet();
        addRequest(id, Prompt.ofTokens(ids), SamplingParams.builder().temperature(0).maxTokens(1).build(), salt, ids.length);
        return new PrefixRequest(id, ids, salt, priority);
    }

    /** Registers (pins) a prefix whose request ended with {@code last}; throws if it failed or was aborted. */
    public PrefixInfo finishPrefix(PrefixRequest pr, RequestOutput last) {
        if (last != null && last.failed()) throw new IllegalStateException("prefix not registered: " + last.error());
        if (last != null && last.output().finishReason() == FinishReason.ABORT) {
            throw new IllegalStateException("prefix not registered: its computation was aborted");
        }
        PrefixInfo info = prefixCache.register(pr.salt(), pr.tokenIds(), pr.priority());
        if (info == null) throw new IllegalStateException("prefix not registered: its computation was aborted");
        return info;
    }

    public boolean deletePrefix(Prompt prefix, String salt) {
        requirePrefixCache();
        int[] ids = prefix.isText() ? tokenizer.encode(prefix.text()) : prefix.tokenIds();
        return prefixCache.delete(salt, ids);
    }

    public boolean deletePrefix(long prefixId) {
        requirePrefixCache();
        return prefixCache.delete(prefixId);
    }

    public List<PrefixInfo> listPrefixes() {
        return prefixCache == null ? List.of() : prefixCache.listPrefixes();
    }

    private void requirePrefixCache() {
        if (prefixCache == null) throw new IllegalStateException("prefix caching is disabled (enablePrefixCaching=false)");
    }

    /** Evicts every cached block no request holds and no pin protects; returns how many were freed. */
    public int evictAllCached() {
        return prefixCache == null ? 0 : prefixCache.evict(pool.numTotal());
    }

    /** Where the steps' time went (host phases, device time), summed since the last {@code stepTimings().reset()}. */
    public StepTimings stepTimings() { return timings; }

    /** The model's device line (GPU name, dtypes), as the backend reports it. */
    public String device() { return model.device(); }

    /** Whether this engine schedules asynchronously ({@link #ASYNC_SCHEDULING}). */
    public boolean asyncScheduling() { return asyncScheduling; }

    /** Steps whose sampled ids were read one step late (asynchronous scheduling) so far. */
    public long deferredSteps() { return deferredSteps; }

    /** Decode steps replayed from a CUDA graph by this engine's executor so far. */
    public long graphReplays() { return runner.executor().graphReplays(); }

    /** Decode steps with cascade groups or a state handoff replayed as CUDA graphs ({@code -Darbor.cuda.cascadeGraphs}); 0 elsewhere. */
    public long cascadeGraphReplays() { return runner.executor().cascadeGraphReplays(); }

    /** The forward pass's time per operation when the JVM runs with {@code -Darbor.opProfile=true}, else null. */
    public dev.arbor.models.OpProfile opProfile() { return runner.executor().opProfile(); }

    /** The most KV blocks held at once (by requests or the prefix cache) since the engine started or {@link #resetPeakBlocksUsed}. */
    public int peakBlocksUsed() { return peakBlocksUsed; }

    public void resetPeakBlocksUsed() { peakBlocksUsed = pool.numTotal() - pool.numFree(); }

    public EngineStats stats() {
        StepProcessor.Counters c = processor.counters();
        return new EngineStats(scheduler.numRunning(), scheduler.numWaiting(), pool.numTotal(), pool.numFree(),
                config.blockSize(), c.promptTokens(), c.computedTokens(), c.prefillTokens(), c.generatedTokens(), c.cachedPromptTokens(),
                c.preemptions(), c.steps(), prefixCache == null ? null : prefixCache.stats());
    }

    /** Aborts everything still queued or running. */
    public List<RequestOutput> abortAll() {
        List<RequestOutput> outs = new ArrayList<>();
        for (String id : new ArrayList<>(requests.keySet())) outs.add(abort(id));
        return outs;
    }

    @Override
    public void close() {
        abortAll();
        runner.executor().close();
        if (ownsModel) model.close();
    }
}
