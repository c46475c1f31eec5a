package ohbench.csv;

import java.util.ArrayList;
import java.util.List;

/** One line of comma-separated values: split into fields, and joined back. */
public final class CsvLine {
    private CsvLine() {}

    /**
     * The fields of {@code line}. A field in double quotes may hold commas, and a doubled
     * quote inside it stands for one quote: {@code a,"b,c","say ""hi"""} has three fields.
     */
    public static List<String> split(String line) {
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (c == ',') {
                fields.add(field.toString());
                field.setLength(0);
            } else if (c != '"') {
                field.append(c);
            }
        }
        fields.add(field.toString());
        return fields;
    }

    /** A line holding {@code fields}, quoting those with commas or quotes in them. */
    public static String join(List<String> fields) {
        StringBuilder line = new StringBuilder();
        for (int i = 0; i < fields.size(); i++) {
            String field = fields.get(i);
            if (i > 0) {
                line.append(',');
            }
            if (field.contains(",") || field.contains("\"")) {
                line.append('"').append(field.replace("\"", "\"\"")).append('"');
            } else {
                line.append(field);
            }
        }
        return line.toString();
    }
}
