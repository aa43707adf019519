package dev.arbor.server;

import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParameterException;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Usage errors as one line and a pointer to {@code --help}: {@code arbor generate: unknown option '--promt'
 * (did you mean --prompt?); see 'arbor generate --help'}. An unknown option is named first, even when a
 * required one is also missing (the missing one is usually the misspelt one).
 */
public final class UsageErrors implements CommandLine.IParameterExceptionHandler {

    @Override
    public int handleParseException(ParameterException ex, String[] args) {
        CommandLine cmd = ex.getCommandLine();
        String message = unknownOption(cmd, args);
        if (message == null) message = firstLine(ex.getMessage());
        String name = cmd.getCommandSpec().qualifiedName();
        cmd.getErr().println(name + ": " + message + "; see '" + name + " --help'");
        cmd.getErr().flush();
        return cmd.getCommandSpec().exitCodeOnInvalidInput();
    }

    /** The first argument that looks like an option none of the commands on the path know, or null. */
    static String unknownOption(CommandLine cmd, String[] args) {
        List<CommandSpec> path = new ArrayList<>();
        for (CommandLine c = cmd; c != null; c = c.getParent()) path.add(c.getCommandSpec());
        boolean valueNext = false;
        for (String arg : args) {
            if (valueNext) { valueNext = false; continue; }
            if (arg.equals("--")) return null;
            if (!arg.startsWith("-") || arg.equals("-") || arg.matches("-[0-9.].*")) continue;
            String name = arg.contains("=") ? arg.substring(0, arg.indexOf('=')) : arg;
            OptionSpec known = find(path, name);
            if (known == null) {
                String near = nearest(cmd.getCommandSpec(), name);
                return "unknown option '" + name + "'" + (near == null ? "" : " (did you mean " + near + "?)");
            }
            valueNext = !arg.contains("=") && known.arity().min() > 0;
        }
        return null;
    }

    private static OptionSpec find(List<CommandSpec> path, String name) {
        for (CommandSpec s : path) {
            OptionSpec o = s.findOption(name);
            if (o != null && o.longestName().startsWith("-") && List.of(o.names()).contains(name)) return o;
        }
        return null;
    }

    /** The option of {@code spec} closest to {@code name} (edit distance at most 3), or null. */
    private static String nearest(CommandSpec spec, String name) {
        String best = null;
        int bestDistance = 4;
        for (OptionSpec o : spec.options()) {
            for (String n : o.names()) {
                int d = distance(name.toLowerCase(Locale.ROOT), n);
                if (d < bestDistance) { bestDistance = d; best = n; }
            }
        }
        return best;
    }

    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1], cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) prev[j] = j;
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                cur[j] = Math.min(Math.min(cur[j - 1], prev[j]) + 1, prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1));
            }
            int[] t = prev; prev = cur; cur = t;
        }
        return prev[b.length()];
    }

    private static String firstLine(String s) {
        if (s == null) return "invalid arguments";
        int nl = s.indexOf('\n');
        return (nl < 0 ? s : s.substring(0, nl)).strip();
    }

    /**
     * Runs {@code check}; an {@link IllegalArgumentException} from it (the engine's own validation, which names
     * fields as {@code top_p} or {@code block_size}) becomes a usage error naming the option ({@code --top-p}).
     */
    public static void check(CommandSpec spec, Runnable check) {
        try {
            check.run();
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), withOptionNames(spec, firstLine(e.getMessage())), e);
        }
    }

    /** {@code message} with each field name of an option of {@code spec} ({@code top_p}) replaced by the option ({@code --top-p}). */
    static String withOptionNames(CommandSpec spec, String message) {
        for (OptionSpec o : spec.options()) {
            String option = o.longestName();
            if (!option.startsWith("--")) continue;
            String field = option.substring(2).replace('-', '_');
            message = message.replaceAll("(?<![\\w-])'?" + java.util.regex.Pattern.quote(field) + "'?(?![\\w-])", option);
        }
        return message.replace("invalid sampling parameter ", "invalid ");
    }
}
