package dev.arbor.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import jinjava.javax.el.CompositeELResolver;

/**
 * A model's chat template (Jinja2 source from {@code tokenizer_config.json}) rendered with
 * jinjava so that the text equals what transformers' {@code apply_chat_template} produces.
 * Encode the result with {@code addSpecialTokens=false}: templates write BOS themselves.
 *
 * <p>transformers renders with {@code trim_blocks=True, lstrip_blocks=True} and offers
 * {@code raise_exception}, {@code strftime_now} and a Python-spaced {@code tojson}; templates also call Python string
 * methods. {@link JinjaSource}, {@link PyStringMethods} and {@link PyJson} bridge the gaps
 * between jinjava and Jinja2.
 *
 * <p>Message contents and extra variables are data: text that looks like template code
 * ({@code {{ 7*7 }}}) reaches the output verbatim, as in Jinja2 (nested interpretation is off).
 */
public final class ChatTemplate {
    private final String source;
    private final String translated;
    private final String bosToken;
    private final String eosToken;
    private final Jinjava jinjava;

    /** {@code bosToken}/{@code eosToken} may be null (Qwen has no BOS); templates see them as undefined then. */
    public ChatTemplate(String source, String bosToken, String eosToken) {
        this.source = source;
        this.translated = JinjaSource.translate(source);
        this.bosToken = bosToken;
        this.eosToken = eosToken;
        this.jinjava = newJinjava();
    }

    private static Jinjava newJinjava() {
        CompositeELResolver resolver = new CompositeELResolver();
        resolver.add(new PyStringMethods()); // first, so Python's split/strip win over java.lang.String's
        resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_WRITE); // read-write: `set ns.x = ...`
        LegacyOverrides jinja2Semantics = LegacyOverrides.newBuilder()
                .withUseTrimmingForNotesAndExpressions(true) // honour `{{-` and `-}}`
                .withParseWhitespaceControlStrictly(true)
                .withUseNaturalOperatorPrecedence(true) // `a + b | trim + c` trims b only
                .withKeepNullableLoopValues(true)
                .build();
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                // Jinja2 prints an expression's value as is; jinjava by default renders it again when
                // it contains `{{`/`{%`, which would run message content as template code.
                .withNestedInterpretationEnabled(false)
                .withElResolver(resolver)
                .withLegacyOverrides(jinja2Semantics)
                .build();
        Jinjava jinjava = new Jinjava(config);
        jinjava.getGlobalContext().registerFilter(new PyJson());
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception",
                ChatTemplate.class, "raiseException", String.class));
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "strftime_now",
                ChatTemplate.class, "strftimeNow", String.class));
        return jinjava;
    }

    /** The template's {@code strftime_now(format)}: the local time now, formatted as Python's strftime does. */
    public static String strftimeNow(String format) {
        return Strftime.format(format, java.time.ZonedDateTime.now());
    }

    /** The template's {@code raise_exception(msg)}: aborts rendering with the template's own message. */
    public static String raiseException(String message) {
        throw new ChatTemplateException(message);
    }

    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, Map.of());
    }

    /**
     * Renders with extra template variables, e.g. {@code enable_thinking=false} for Qwen3; they cannot
     * replace {@code messages}, {@code add_generation_prompt} or the special tokens.
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt, Map<String, Object> variables) {
        Map<String, Object> context = new HashMap<>(variables);
        // Insertion-ordered maps, so `message | tojson` lists role before content, as Python dicts do.
        context.put("messages", messages.stream().map(m -> {
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("role", m.role());
            map.put("content", m.content());
            return map;
        }).toList());
        context.put("add_generation_prompt", addGenerationPrompt);
        // transformers passes strftime_now as a global callable, so `strftime_now is defined` holds
        // (Llama 3.1+ falls back to a fixed date otherwise); the call itself goes to the function.
        context.putIfAbsent("strftime_now", "strftime_now");
        if (bosToken != null) context.put("bos_token", bosToken);
        if (eosToken != null) context.put("eos_token", eosToken);

        RenderResult result = jinjava.renderForResult(translated, context);
        List<TemplateError> fatal = result.getErrors().stream()
                .filter(e -> e.getSeverity() == TemplateError.ErrorType.FATAL).toList();
        if (!fatal.isEmpty()) {
            // jinjava reports an exception thrown by raise_exception as "Error invoking function";
            // surface the template's own message, which says what is wrong with the conversation.
            for (TemplateError e : fatal) {
                for (Throwable t = e.getException(); t != null; t = t.getCause()) {
                    if (t instanceof ChatTemplateException raised) throw new ChatTemplateException(raised.getMessage());
                }
            }
            throw new ChatTemplateException("chat template failed: "
                    + fatal.stream().map(TemplateError::getMessage).collect(Collectors.joining("; ")));
        }
        return result.getOutput();
    }

    /** The template as the model ships it. */
    public String source() {
        return source;
    }

    /** Rendering failed: a template error, or the template's own {@code raise_exception}. */
    public static final class ChatTemplateException extends RuntimeException {
        public ChatTemplateException(String message) {
            super(message);
        }
    }
}
