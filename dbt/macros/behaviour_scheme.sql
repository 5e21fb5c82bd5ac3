{#-
    The column layout of the coding scheme. What each behaviour means — actor, S/T code, participation and
    attention flags, labels, order — comes from the seed `behaviour_codes` at run time; only the names of the
    columns that carry the codes are fixed here, because they are the raw tables' columns (the data contract
    derives them from the same seed). The singular test `assert_behaviour_scheme_matches_seed` fails when the
    seed and these lists drift apart.
-#}

{#- Teacher behaviour codes in seed order: the wide tables' share_<code> columns. -#}
{% macro teacher_behaviour_codes() -%}
    {{ return(['lecturing', 'blackboard_writing', 'patrolling', 'teacher_student_interaction']) }}
{%- endmacro %}

{#- Student behaviours in seed order: (code, share column in the raw tables). -#}
{% macro student_behaviour_columns() -%}
    {{ return([
        ('listening', 'share_listening'),
        ('hand_raising', 'share_hand_raising'),
        ('answering', 'share_answering'),
        ('reading_writing', 'share_reading_writing'),
        ('student_student_interaction', 'share_student_interaction'),
    ]) }}
{%- endmacro %}

{#- `array[share_listening, …]` in seed order, optionally qualified by a table alias. -#}
{% macro student_shares_array(alias=none) -%}
    array[{% for code, column in student_behaviour_columns() %}{{ alias ~ '.' if alias }}{{ column }}{{ ', ' if not loop.last }}{% endfor %}]
{%- endmacro %}

{#- The largest student share of a point. -#}
{% macro largest_student_share(alias=none) -%}
    greatest({% for code, column in student_behaviour_columns() %}{{ alias ~ '.' if alias }}{{ column }}{{ ', ' if not loop.last }}{% endfor %})
{%- endmacro %}

{#-
    Seed position (1-based) of a point's dominant student behaviour: the largest share; a tie goes to the
    earlier behaviour in seed order (array_position finds the first), like numpy.argmax in jiaoyan.codes.st_codes.
-#}
{% macro dominant_student_position(alias=none) -%}
    array_position({{ student_shares_array(alias) }}, {{ largest_student_share(alias) }})
{%- endmacro %}

{#- Σ flag[i] × share[i] over the student behaviours, with `flags` an integer array in seed order. -#}
{% macro flagged_student_share(flags, alias=none) -%}
    ({% for code, column in student_behaviour_columns() %}{{ flags }}[{{ loop.index }}] * {{ alias ~ '.' if alias }}{{ column }}{{ ' + ' if not loop.last }}{% endfor %})
{%- endmacro %}

{#-
    Teacher-level portrait indicators: the columns of int_teacher_term_metrics that are unpivoted into
    int_teacher_term_indicator_values. Labels, direction and whether an indicator can be a strength or weakness
    come from the seed metric_definitions (a singular test checks every code here is in the seed).
-#}
{% macro portrait_indicators() -%}
    {{ return(['rt', 'ch', 'participation', 'attention', 'performance', 'teacher_talk',
               'teacher_student_interaction', 'student_student_interaction', 'rubric_teaching_design',
               'rubric_classroom_teaching', 'research_potential']) }}
{%- endmacro %}

{#- Lesson metrics compared side by side in report 2: (metric code in metric_definitions, mart_lesson_report column). -#}
{% macro lesson_comparison_metrics() -%}
    {{ return([
        ('rt', 'rt'), ('ch', 'ch'), ('participation', 'participation_level'), ('attention', 'attention_level'),
        ('performance', 'consistency_level'), ('teacher_talk', 'share_lecturing'),
        ('teacher_student_interaction', 'share_teacher_student_interaction'),
        ('student_student_interaction', 'mean_share_student_interaction'),
    ]) }}
{%- endmacro %}

{#-
    One row holding the seed's scheme as arrays in seed order — teacher codes with their S/T and attention flags,
    student codes with their S/T, participation and attention flags — for per-point classification by array
    lookups (`scheme.student_codes[position]`) instead of joins: the point-level models read it as a
    `materialized` CTE, computed once per query.
-#}
{% macro behaviour_scheme_arrays() -%}
    select
        array_agg(code order by position) filter (where actor = 'teacher') as teacher_codes,
        array_agg(st_code = 'S' order by position) filter (where actor = 'teacher') as teacher_is_s,
        array_agg(in_attention order by position) filter (where actor = 'teacher') as teacher_in_attention,
        array_agg(code order by position) filter (where actor = 'student') as student_codes,
        array_agg(st_code = 'S' order by position) filter (where actor = 'student') as student_is_s,
        array_agg(in_participation::int order by position) filter (where actor = 'student') as participation_flags,
        array_agg(in_attention::int order by position) filter (where actor = 'student') as attention_flags
    from {{ ref('behaviour_codes') }}
{%- endmacro %}
