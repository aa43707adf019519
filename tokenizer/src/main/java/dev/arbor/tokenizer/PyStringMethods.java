package dev.arbor.tokenizer;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * Python {@code str} methods that chat templates call ({@code content.startswith('<tool_response>')},
 * {@code content.split('</think>')[-1].lstrip('\n')}, ...). jinjava resolves method calls on Java
 * objects only, where these names do not exist or mean something else ({@code String.split} takes
 * a regex and drops trailing empty parts), so this resolver answers them first with Python's
 * semantics and leaves every other call to jinjava's own resolvers.
 */
final class PyStringMethods extends ELResolver {

    @Override
    public Object invoke(ELContext context, Object base, Object method, Class<?>[] types, Object[] params) {
        if (!(base instanceof String s) || method == null) return null;
        Object[] p = params == null ? new Object[0] : params;
        Object result = call(s, method.toString(), p);
        if (result != null) context.setPropertyResolved(true);
        return result;
    }

    /** The Python method's result, or null when the name is not one we implement (jinjava then tries). */
    static Object call(String s, String name, Object[] p) {
        return switch (name) {
            case "startswith" -> anyOf(p[0], s::startsWith);
            case "endswith" -> anyOf(p[0], s::endsWith);
            case "strip" -> rstrip(lstrip(s, chars(p)), chars(p));
            case "lstrip" -> lstrip(s, chars(p));
            case "rstrip" -> rstrip(s, chars(p));
            case "split" -> p.length == 0 || p[0] == null ? splitWhitespace(s) : split(s, p[0].toString());
            case "upper" -> s.toUpperCase(Locale.ROOT);
            case "lower" -> s.toLowerCase(Locale.ROOT);
            case "replace" -> s.replace(p[0].toString(), p[1].toString());
            default -> null;
        };
    }

    /** Python accepts a tuple of prefixes: {@code s.startswith(('a', 'b'))}. */
    private static Boolean anyOf(Object arg, java.util.function.Predicate<String> test) {
        if (arg instanceof Collection<?> options) return options.stream().anyMatch(o -> test.test(o.toString()));
        return test.test(arg.toString());
    }

    /** The characters to strip; null means Python's default, whitespace. */
    private static String chars(Object[] p) {
        return p.length == 0 || p[0] == null ? null : p[0].toString();
    }

    private static boolean strippable(String chars, char c) {
        return chars == null ? Character.isWhitespace(c) || Character.isSpaceChar(c) : chars.indexOf(c) >= 0;
    }

    static String lstrip(String s, String chars) {
        int i = 0;
        while (i < s.length() && strippable(chars, s.charAt(i))) i++;
        return s.substring(i);
    }

    static String rstrip(String s, String chars) {
        int i = s.length();
        while (i > 0 && strippable(chars, s.charAt(i - 1))) i--;
        return s.substring(0, i);
    }

    /** {@code str.split(sep)}: literal separator, empty parts kept. */
    static List<String> split(String s, String sep) {
        if (sep.isEmpty()) throw new IllegalArgumentException("empty separator");
        List<String> parts = new ArrayList<>();
        int start = 0;
        for (int at = s.indexOf(sep); at >= 0; at = s.indexOf(sep, start)) {
            parts.add(s.substring(start, at));
            start = at + sep.length();
        }
        parts.add(s.substring(start));
        return parts;
    }

    /** {@code str.split()}: runs of whitespace separate, no empty parts. */
    static List<String> splitWhitespace(String s) {
        List<String> parts = new ArrayList<>();
        for (String part : s.strip().split("\\s+")) if (!part.isEmpty()) parts.add(part);
        return parts;
    }

    // The remaining ELResolver methods concern properties, which this resolver does not provide.

    @Override
    public Object getValue(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public Class<?> getType(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public void setValue(ELContext context, Object base, Object property, Object value) {}

    @Override
    public boolean isReadOnly(ELContext context, Object base, Object property) {
        return true;
    }

    @Override
    public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
        return null;
    }

    @Override
    public Class<?> getCommonPropertyType(ELContext context, Object base) {
        return null;
    }
}
