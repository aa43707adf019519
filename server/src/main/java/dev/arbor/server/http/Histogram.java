package dev.arbor.server.http;

import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;

/**
 * A Prometheus histogram with fixed upper bounds. Observations go to one non-cumulative bucket
 * (a lock-free adder, so handler threads never contend); the exposition sums them into the
 * cumulative {@code le} buckets the text format requires.
 */
final class Histogram {
    private final String name;
    private final String help;
    private final double[] bounds;
    private final LongAdder[] buckets;   // buckets[i]: observations in (bounds[i-1], bounds[i]]; the last is +Inf
    private final DoubleAdder sum = new DoubleAdder();

    Histogram(String name, String help, double... bounds) {
        for (int i = 1; i < bounds.length; i++) {
            if (!(bounds[i] > bounds[i - 1])) throw new IllegalArgumentException(name + ": bucket bounds must increase");
        }
        this.name = name;
        this.help = help;
        this.bounds = bounds.clone();
        this.buckets = new LongAdder[bounds.length + 1];
        for (int i = 0; i < buckets.length; i++) buckets[i] = new LongAdder();
    }

    void observe(double value) {
        int i = 0;
        while (i < bounds.length && value > bounds[i]) i++;
        buckets[i].increment();
        sum.add(value);
    }

    long count() {
        long c = 0;
        for (LongAdder b : buckets) c += b.sum();
        return c;
    }

    void writeTo(PrometheusText out) {
        out.header(name, help, "histogram");
        long cumulative = 0;
        for (int i = 0; i < bounds.length; i++) {
            cumulative += buckets[i].sum();
            out.sample(name + "_bucket", "le", PrometheusText.number(bounds[i]), cumulative);
        }
        cumulative += buckets[bounds.length].sum();
        out.sample(name + "_bucket", "le", "+Inf", cumulative);
        out.sample(name + "_sum", sum.sum());
        out.sample(name + "_count", cumulative);
    }
}
