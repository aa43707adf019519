package dev.arbor.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Rewrites the few Jinja2 constructs in Hugging Face chat templates that jinjava parses
 * differently, into equivalents it renders the way Python's Jinja2 does. Everything else (string
 * methods, tojson, raise_exception) is supplied at run time by {@link ChatTemplate}.
 */
final class JinjaSource {
    private static final Pattern REVERSED_SLICE = Pattern.compile("\\[\\s*:\\s*:\\s*-1\\s*\\]");
    private static final Pattern NAMESPACE_CALL = Pattern.compile("\\bnamespace\\s*\\(");
    /** {@code not <operand> is [not] <test>[(args)]}, whose {@code not} Jinja2 applies to the whole test. */
    private static final Pattern NOT_IS_TEST = Pattern.compile(
            "\\bnot\\s+([A-Za-z_][\\w.]*(?:\\[[^\\]]*\\])*)\\s+is\\s+(not\\s+)?([A-Za-z_]\\w*(?:\\([^()]*\\))?)");
    private static final Pattern KEYWORD_ARG = Pattern.compile("^(\\s*)([A-Za-z_][A-Za-z0-9_]*)\\s*=(?!=)(.*)$", Pattern.DOTALL);

    private JinjaSource() {}

    static String translate(String template) {
        String s = template;
        // Jinja2 drops one trailing newline of the source (keep_trailing_newline=False); jinjava keeps it.
        if (s.endsWith("\n")) s = s.substring(0, s.length() - (s.endsWith("\r\n") ? 2 : 1));
        // jinjava's parser has no extended slices; `xs[::-1]` is exactly `xs|reverse`.
        s = REVERSED_SLICE.matcher(s).replaceAll("|reverse");
        // Jinja2 reads `not x is defined` as `not (x is defined)`; jinjava as `(not x) is defined`.
        s = NOT_IS_TEST.matcher(s).replaceAll("not ($1 is $2$3)");
        return parenthesiseNamespaceArgs(s);
    }

    /**
     * jinjava binds a filter in a keyword argument to the whole {@code name=value} pair:
     * {@code namespace(i=messages|length - 1)} fails with "Cannot coerce NamedParameter to Long".
     * Wrapping each value in parentheses, {@code namespace(i=(messages|length - 1))}, parses as Jinja2 means it.
     */
    private static String parenthesiseNamespaceArgs(String s) {
        StringBuilder out = new StringBuilder();
        Matcher m = NAMESPACE_CALL.matcher(s);
        int done = 0;
        while (m.find(done)) {
            int open = m.end() - 1;
            int close = matchingParen(s, open);
            if (close < 0) break; // unbalanced: leave it for jinjava to report
            out.append(s, done, open + 1);
            List<String> args = splitTopLevel(s.substring(open + 1, close));
            for (int i = 0; i < args.size(); i++) {
                if (i > 0) out.append(',');
                Matcher kw = KEYWORD_ARG.matcher(args.get(i));
                out.append(kw.matches() ? kw.group(1) + kw.group(2) + "=(" + kw.group(3).strip() + ")" : args.get(i));
            }
            out.append(')');
            done = close + 1;
        }
        return out.append(s.substring(done)).toString();
    }

    /** Index of the parenthesis closing the one at {@code open}, skipping string literals; -1 if none. */
    private static int matchingParen(String s, int open) {
        int depth = 0;
        for (int i = open; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\'' || c == '"') i = endOfString(s, i);
            else if (c == '(' || c == '[' || c == '{') depth++;
            else if ((c == ')' || c == ']' || c == '}') && --depth == 0) return c == ')' ? i : -1;
        }
        return -1;
    }

    private static List<String> splitTopLevel(String args) {
        List<String> parts = new ArrayList<>();
        int depth = 0;
        int start = 0;
        for (int i = 0; i < args.length(); i++) {
            char c = args.charAt(i);
            if (c == '\'' || c == '"') i = endOfString(args, i);
            else if (c == '(' || c == '[' || c == '{') depth++;
            else if (c == ')' || c == ']' || c == '}') depth--;
            else if (c == ',' && depth == 0) {
                parts.add(args.substring(start, i));
                start = i + 1;
            }
        }
        if (!args.isBlank()) parts.add(args.substring(start));
        return parts;
    }

    /** Index of the quote ending the string literal that starts at {@code quote} (backslash escapes honoured). */
    private static int endOfString(String s, int quote) {
        char q = s.charAt(quote);
        for (int i = quote + 1; i < s.length(); i++) {
            if (s.charAt(i) == '\\') i++;
            else if (s.charAt(i) == q) return i;
        }
        return s.length();
    }
}
