package dev.arbor.engine.cache;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToIntFunction;

/** Admission-order helpers that use prefix sharing. Pure functions over ids and counts. */
public final class PrefixScheduling {
    private PrefixScheduling() {}

    /**
     * Longest cached prefix first (SGLang's "lpm"): sorts by {@code cachedTokens} descending, stable
     * (equal prefixes keep arrival order). With more than {@code fcfsThreshold} waiting requests it
     * returns them in arrival order instead, as SGLang does, since matching every one of a long
     * queue each step costs more than it saves. {@code cachedTokens} is called once per element.
     *
     * @return a new list
     */
    public static <T> List<T> longestPrefixFirst(List<T> waiting, ToIntFunction<T> cachedTokens, int fcfsThreshold) {
        if (waiting.size() > fcfsThreshold || waiting.size() < 2) return new ArrayList<>(waiting);
        int n = waiting.size();
        int[] cached = new int[n];
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            cached[i] = cachedTokens.applyAsInt(waiting.get(i));
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparingInt((Integer i) -> -cached[i]));   // TimSort: stable
        List<T> out = new ArrayList<>(n);
        for (int i : order) out.add(waiting.get(i));
        return out;
    }

    /**
     * One request of an offline batch, for {@link #planPrefixGroups}.
     *
     * @param tokens       prompt token ids
     * @param prefixPos    length of its shared prefix (the seed's {@code prefix_pos}); 0 = none
     * @param maxNewTokens most tokens it may generate
     */
    public record PlanRequest(int[] tokens, int prefixPos, int maxNewTokens) {
        public PlanRequest {
            if (prefixPos < 0 || prefixPos > tokens.length)
                throw new IllegalArgumentException("prefixPos " + prefixPos + " outside a prompt of " + tokens.length + " tokens");
        }
    }

    /**
     * Requests sharing one prefix.
     *
     * @param prefixTokens the shared prefix (empty for a request with none, which forms a group alone)
     * @param requests     indices into the planned list, ascending
     * @param prefixBlocks full blocks of the prefix, computed once for the group
     * @param blocks       estimated blocks for the whole group: the prefix blocks once, plus per
     *                     request the blocks of its prompt after them and of its output
     */
    public record PrefixGroup(int[] prefixTokens, int[] requests, int prefixBlocks, int blocks) {
        public int size() { return requests.length; }
    }

    /**
     * Plans an offline batch so that shared prefixes are computed once and stay cached while their
     * requests run.
     *
     * <ol>
     *   <li>PrefixGroup: requests with identical prefix tokens (first {@code prefixPos} tokens, compared in
     *       full) form one group, in order of first appearance; requests with no prefix are groups
     *       of one.</li>
     *   <li>Estimate: a group needs {@code prefixPos / blockSize} prefix blocks once (only full
     *       blocks are shared) and, per request, {@code ceil((prompt + maxNewTokens) / blockSize)}
     *       minus those.</li>
     *   <li>Order: groups by size descending (stable), the biggest sharing first.</li>
     *   <li>Waves: the first wave takes, in that order, every group that still fits in
     *       {@code freeBlocks} (first fit: a group that does not fit is skipped, smaller ones after it
     *       may still go in); the rest form the next waves the same way, each assuming the previous
     *       wave's blocks were freed. A group larger than {@code freeBlocks} alone is a wave by
     *       itself (the scheduler then runs it in as many steps as memory allows).</li>
     * </ol>
     * Admitting wave by wave (all of one wave before the next) keeps each prefix's requests
     * together, so the prefix is computed once and cached for the others in its group.
     *
     * @return the waves, each a list of groups in admission order
     */
    public static List<List<PrefixGroup>> planPrefixGroups(List<PlanRequest> requests, int blockSize, int freeBlocks) {
        if (blockSize < 1) throw new IllegalArgumentException("blockSize must be >= 1, got " + blockSize);
        Map<Object, List<Integer>> byPrefix = new LinkedHashMap<>();
        for (int i = 0; i < requests.size(); i++) {
            PlanRequest r = requests.get(i);
            Object key = r.prefixPos() == 0 ? Integer.valueOf(i) : new TokensKey(Arrays.copyOf(r.tokens(), r.prefixPos()));
            byPrefix.computeIfAbsent(key, k -> new ArrayList<>()).add(i);
        }
        List<PrefixGroup> groups = new ArrayList<>(byPrefix.size());
        for (List<Integer> members : byPrefix.values()) {
            PlanRequest first = requests.get(members.getFirst());
            int prefixBlocks = first.prefixPos() / blockSize;
            int blocks = prefixBlocks;
            for (int i : members) {
                PlanRequest r = requests.get(i);
                blocks += ceilDiv(r.tokens().length + r.maxNewTokens(), blockSize) - prefixBlocks;
            }
            groups.add(new PrefixGroup(Arrays.copyOf(first.tokens(), first.prefixPos()),
                    members.stream().mapToInt(Integer::intValue).toArray(), prefixBlocks, blocks));
        }
        groups.sort(Comparator.comparingInt((PrefixGroup g) -> -g.size()));   // stable
        List<List<PrefixGroup>> waves = new ArrayList<>();
        List<PrefixGroup> rest = groups;
        while (!rest.isEmpty()) {
            List<PrefixGroup> wave = new ArrayList<>();
            List<PrefixGroup> next = new ArrayList<>();
            int left = freeBlocks;
            for (PrefixGroup g : rest) {
                if (g.blocks() <= left || wave.isEmpty() && next.isEmpty() && g.blocks() > freeBlocks) {
                    wave.add(g);
                    left -= g.blocks();
                } else {
                    next.add(g);
                }
            }
            waves.add(wave);
            rest = next;
        }
        return waves;
    }

    private static int ceilDiv(int a, int b) { return (a + b - 1) / b; }

    private record TokensKey(int[] tokens) {
        @Override public boolean equals(Object o) { return o instanceof TokensKey k && Arrays.equals(tokens, k.tokens); }
        @Override public int hashCode() { return Arrays.hashCode(tokens); }
    }
}
