package dev.arbor.tokenizer;

import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.TextStyle;
import java.time.temporal.ChronoField;
import java.util.Locale;

/**
 * Python's {@code datetime.strftime} in the C locale, for the {@code strftime_now(format)} that
 * transformers offers chat templates (Llama 3.1+ writes "Today Date: {{ strftime_now("%d %b %Y") }}").
 * Directives: %a %A %b %B %d %e %H %I %j %m %M %p %S %y %Y %Z %z %%; any other is an error naming it.
 */
final class Strftime {
    private Strftime() {}

    static String format(String format, ZonedDateTime t) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%') {
                out.append(c);
                continue;
            }
            if (++i == format.length()) throw new IllegalArgumentException("strftime format ends with a lone '%': " + format);
            char d = format.charAt(i);
            out.append(switch (d) {
                case 'a' -> t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH);
                case 'A' -> t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH);
                case 'b' -> t.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH);
                case 'B' -> t.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH);
                case 'd' -> two(t.getDayOfMonth());
                case 'e' -> String.format("%2d", t.getDayOfMonth());
                case 'H' -> two(t.getHour());
                case 'I' -> two(t.getHour() % 12 == 0 ? 12 : t.getHour() % 12);
                case 'j' -> String.format("%03d", t.getDayOfYear());
                case 'm' -> two(t.getMonthValue());
                case 'M' -> two(t.getMinute());
                case 'p' -> t.get(ChronoField.AMPM_OF_DAY) == 0 ? "AM" : "PM";
                case 'S' -> two(t.getSecond());
                case 'y' -> two(t.getYear() % 100);
                case 'Y' -> Integer.toString(t.getYear());
                case 'Z' -> t.getZone().getDisplayName(TextStyle.SHORT, Locale.ENGLISH);
                case 'z' -> t.format(DateTimeFormatter.ofPattern("xx", Locale.ENGLISH));
                case '%' -> "%";
                default -> throw new IllegalArgumentException("strftime directive %" + d + " is not supported (in '" + format + "')");
            });
        }
        return out.toString();
    }

    private static String two(int v) {
        return v < 10 ? "0" + v : Integer.toString(v);
    }
}
