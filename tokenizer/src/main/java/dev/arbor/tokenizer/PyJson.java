package dev.arbor.tokenizer;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;
import java.util.Collection;
import java.util.Map;

/**
 * The {@code tojson} filter as transformers defines it for chat templates:
 * {@code json.dumps(x, ensure_ascii=False, indent=indent)}. Python's spacing differs from
 * jinjava's built-in (Jackson) output, {@code {"a": 1, "b": [1, 2]}} against {@code {"a":1,"b":[1,2]}},
 * and tokens differ with it, so this replaces the built-in.
 */
final class PyJson implements Filter {

    @Override
    public String getName() {
        return "tojson";
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
        Integer indent = args.length > 0 && args[0] != null ? Integer.valueOf(args[0]) : null;
        return dumps(var, indent);
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
        Object indent = kwargs.getOrDefault("indent", args.length > 0 ? args[0] : null);
        return dumps(var, indent == null ? null : ((Number) (indent instanceof String s ? Integer.valueOf(s) : indent)).intValue());
    }

    static String dumps(Object value, Integer indent) {
        StringBuilder out = new StringBuilder();
        write(out, value, indent, 0);
        return out.toString();
    }

    private static void write(StringBuilder out, Object v, Integer indent, int depth) {
        if (v == null) out.append("null");
        else if (v instanceof String s) quote(out, s);
        else if (v instanceof Boolean || v instanceof Number) out.append(v);
        else if (v instanceof Map<?, ?> m) container(out, m.entrySet(), '{', '}', indent, depth, (e, d) -> {
            quote(out, String.valueOf(e.getKey()));
            out.append(": ");
            write(out, e.getValue(), indent, d);
        });
        else if (v instanceof Collection<?> c) container(out, c, '[', ']', indent, depth, (x, d) -> write(out, x, indent, d));
        else quote(out, v.toString());
    }

    private interface ItemWriter<T> {
        void write(T item, int depth);
    }

    /** Python's layout: ", " between items on one line, or one item per line when indenting. */
    private static <T> void container(StringBuilder out, Collection<T> items, char open, char close, Integer indent, int depth, ItemWriter<T> item) {
        out.append(open);
        if (items.isEmpty()) {
            out.append(close);
            return;
        }
        boolean first = true;
        for (T x : items) {
            out.append(first ? "" : indent == null ? ", " : ",");
            if (indent != null) out.append('\n').append(" ".repeat(indent * (depth + 1)));
            item.write(x, depth + 1);
            first = false;
        }
        if (indent != null) out.append('\n').append(" ".repeat(indent * depth));
        out.append(close);
    }

    private static void quote(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
                    else out.append(c); // ensure_ascii=False: non-ASCII passes through
                }
            }
        }
        out.append('"');
    }
}
