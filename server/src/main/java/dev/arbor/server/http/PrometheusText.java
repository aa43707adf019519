package dev.arbor.server.http;

/**
 * Writer for Prometheus' text exposition format 0.0.4: a {@code # HELP} and {@code # TYPE} line
 * per metric family, then {@code name{label="value"} number} samples.
 */
final class PrometheusText {
    static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
    private final StringBuilder out = new StringBuilder(4096);

    void header(String name, String help, String type) {
        out.append("# HELP ").append(name).append(' ').append(help.replace("\\", "\\\\").replace("\n", "\\n")).append('\n');
        out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    void sample(String name, double value) {
        out.append(name).append(' ').append(number(value)).append('\n');
    }

    void sample(String name, String label, String labelValue, double value) {
        out.append(name).append('{').append(label).append("=\"").append(escape(labelValue)).append("\"} ")
                .append(number(value)).append('\n');
    }

    void sample(String name, String[] labels, String[] values, double value) {
        out.append(name).append('{');
        for (int i = 0; i < labels.length; i++) {
            if (i > 0) out.append(',');
            out.append(labels[i]).append("=\"").append(escape(values[i])).append('"');
        }
        out.append("} ").append(number(value)).append('\n');
    }

    /** One-sample families: a gauge or a counter. */
    void single(String name, String help, String type, double value) {
        header(name, help, type);
        sample(name, value);
    }

    static String number(double v) {
        if (Double.isNaN(v)) return "NaN";
        if (Double.isInfinite(v)) return v > 0 ? "+Inf" : "-Inf";
        if (v == Math.rint(v) && Math.abs(v) < 1e15) return Long.toString((long) v);
        return Double.toString(v);
    }

    private static String escape(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    @Override
    public String toString() { return out.toString(); }
}
